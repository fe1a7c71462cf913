from __future__ import annotations

import pytest

from clinifile.services.filenames import content_disposition, safe_filename


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("Überweisung (1).pdf", "Überweisung (1).pdf"),
        ("a/b\\c.pdf", "a_b_c.pdf"),
        ("..", "file"),
        (".", "file"),
        ("", "file"),
        ("   ", "file"),
        ("nul\x00byte.pdf", "nulbyte.pdf"),
        ("bell\x07.txt", "bell.txt"),
        ("evil\u202egnp.exe", "evilgnp.exe"),  # RTL override removed
        ("emoji 🩺.png", "emoji 🩺.png"),
    ],
)
def test_safe_filename_removes_what_is_unsafe(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe


def test_safe_filename_cuts_long_names_to_255_bytes_keeping_the_extension() -> None:
    name = safe_filename("ü" * 300 + ".pdf")
    assert len(name.encode()) <= 255
    assert name.endswith(".pdf")
    assert name.startswith("üüü")


def test_content_disposition_is_rfc5987_encoded() -> None:
    assert content_disposition('a "quoted"; name.pdf') == (
        "attachment; filename*=UTF-8''a%20%22quoted%22%3B%20name.pdf"
    )
    assert content_disposition("Ü.pdf") == "attachment; filename*=UTF-8''%C3%9C.pdf"
