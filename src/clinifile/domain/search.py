"""How names are searched: accents, case and compatibility forms are ignored, so that
"nunez" finds "Núñez", "SOREN" finds "Søren" and "strasse" finds "Straße".

The fold is stored beside each name when it is written (patients' `*_search` columns,
backfilled by migration 0003), so that SQLite and PostgreSQL compare the same strings:
neither database folds accents by itself in the same way.
"""

from __future__ import annotations

import unicodedata

# letters that carry no combining mark to drop, so NFKD leaves them as they are
_BASE_LETTERS = str.maketrans(
    {"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ħ": "h", "Ħ": "h",
     "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "þ": "th", "Þ": "th", "\u0131": "i"}  # dotless i
)  # fmt: skip


def fold(text: str) -> str:
    """text without accents, in case-folded compatibility form: "Núñez" → "nunez"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_BASE_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
