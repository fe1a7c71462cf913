"""Logging for every command, set up once."""

from __future__ import annotations

import logging


def configure_logging(level: str = "info") -> None:
    """Timestamps and logger names; httpx is kept to warnings, because at INFO it logs
    request URLs, and presigned URLs carry signatures (never logged)."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
