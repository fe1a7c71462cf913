"""File names: made safe to store and to send back in a Content-Disposition header."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

MAX_FILENAME_BYTES = 255
FALLBACK_NAME = "file"


def safe_filename(name: str) -> str:
    """A file name with no path separators, control or format characters (NUL, RTL marks),
    not "." or "..", at most 255 UTF-8 bytes, keeping the extension where it can."""
    cleaned = "".join(
        "_" if ch in "/\\" else ch
        for ch in unicodedata.normalize("NFC", name)
        if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"}
    ).strip()
    if cleaned.strip(".") == "":
        return FALLBACK_NAME
    if len(cleaned.encode()) > MAX_FILENAME_BYTES:
        stem, dot, ext = cleaned.rpartition(".")
        suffix = (dot + ext) if dot and stem and len((dot + ext).encode()) <= 16 else ""
        budget = MAX_FILENAME_BYTES - len(suffix.encode())
        stem = (stem if suffix else cleaned).encode()[:budget].decode("utf-8", "ignore")
        cleaned = stem + suffix
    return cleaned


# what a browser may show in a tab (`inline`): PDFs and raster images, which run no script;
# never HTML, SVG, XML or anything else a browser would execute or interpret as a page
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"})


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """`attachment; filename*=UTF-8''<percent-encoded name>` (RFC 6266 / RFC 5987), or
    `inline; ...` to show it in the browser (the caller checks INLINE_TYPES)."""
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename*=UTF-8''" + quote(filename, safe="")
