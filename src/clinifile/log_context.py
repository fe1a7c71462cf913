"""What a log line is about, beyond its message: the request it serves and the attachment it
concerns, carried in context variables (each request and each job has its own), and the
one-JSON-object-a-line format operators' tools read (CLINIFILE_LOG_FORMAT=json).

A request's id comes from its X-Request-ID header when that is a plausible id, else it is
made here; the API returns it, stores it with an attachment it registers, and the worker
logs that attachment's processing under the same id.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

request_id: ContextVar[str | None] = ContextVar("clinifile_request_id", default=None)
attachment_id: ContextVar[int | None] = ContextVar("clinifile_attachment_id", default=None)

# what a proxy or a client may send: printable, no spaces, short (anything else is replaced)
_PLAUSIBLE = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The header's id when plausible, else a new one."""
    if header is not None and _PLAUSIBLE.fullmatch(header):
        return header
    return uuid.uuid4().hex


class WithContext(logging.Filter):
    """Puts the current request id and attachment id on every record (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.attachment_id = attachment_id.get()
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, attachment_id (and
    the traceback, when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "attachment_id": getattr(record, "attachment_id", None),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)
