"""What must never reach a log line, and a logging filter that removes it.

The code does not log secrets in the first place; this is the net under it, for library
loggers we do not control (httpx logs every request URL at INFO, and a presigned URL
carries its signature).
"""

from __future__ import annotations

import logging
import re

SECRET_PATTERNS = (
    # presigned URLs: the signature and the credential (access key id) in the query string
    re.compile(r"(?i)(x-amz-(?:signature|credential|security-token)['\"]?[=:]\s*['\"]?)[^&\s'\"]+"),
    # HTTP Basic / bearer credentials
    re.compile(r"(?i)(authorization['\"]?[:=]\s*['\"]?(?:basic|bearer)\s+)[A-Za-z0-9+/=._-]+"),
    # clinifile API keys: 64 hex characters and a shard suffix
    re.compile(r"()\b[0-9a-f]{64}-[a-z]+[0-9]+\b"),
)


def redact(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record whose message contains something that looks secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def protect_library_loggers() -> None:
    """Redacts the loggers that log request URLs (presigned URLs carry signatures); safe
    to call more than once."""
    for name in ("httpx", "httpcore", "urllib3"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
