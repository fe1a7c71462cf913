"""Logging for every command, set up once, with secrets kept out of every line.

Never logged: API keys, presigned-URL signatures and credentials, Authorization headers,
file contents. Libraries that log request URLs or signing steps (httpx at INFO, botocore
at DEBUG) are held at WARNING, and a filter redacts anything that still looks secret.
"""

from __future__ import annotations

import logging
import os

from clinifile.log_context import JsonLines, WithContext
from clinifile.redaction import RedactSecrets, protect_library_loggers

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# these log presigned URLs (httpx, urllib3), canonical requests and signatures (botocore),
# or SQL with its parameters: patients' names (sqlalchemy, when the root logger is at INFO)
QUIET_LOGGERS = ("httpx", "httpcore", "botocore", "boto3", "s3transfer", "urllib3", "sqlalchemy")

_HANDLER_MARK = "_clinifile_handler"


def configure_logging(
    level: str = "info", handler: logging.Handler | None = None, log_format: str | None = None
) -> None:
    """Timestamps and logger names on stderr (or handler), or with log_format "json" (by
    default CLINIFILE_LOG_FORMAT) one JSON object a line with the request and attachment
    ids; replaces an earlier clinifile handler but leaves other handlers (a test runner's)
    in place. Secrets are redacted in both formats."""
    log_format = log_format or os.environ.get("CLINIFILE_LOG_FORMAT", "text")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = handler or logging.StreamHandler()
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets())
    handler.addFilter(WithContext())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(level.upper())
    keep_libraries_quiet()


def keep_libraries_quiet() -> None:
    """The loggers that would log URLs, signatures or SQL parameters: at WARNING, and
    httpx's lines redacted."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    protect_library_loggers()
