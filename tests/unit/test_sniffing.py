from __future__ import annotations

import pytest

from clinifile.services.sniffing import detect_content_type
from tests import samples


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (samples.pdf(), "x.pdf", "application/pdf"),
        (samples.png(), "x.pdf", "image/png"),
        (samples.TEXT, "notes.txt", "text/plain"),
        (samples.TEXT, "scan.png", "text/plain"),
        (b"a,b\n1,2\n", "table.csv", "text/csv"),
        (b'{"a": 1}', "data.json", "application/json"),
        (b"\x00\x01\x02\x03garbage", "x.pdf", "application/octet-stream"),
        (b"\x00\x01\x02\x03garbage", "x.bin", "application/octet-stream"),
        (b"PK\x03\x04" + b"\x00" * 40, "x.docx", "application/zip"),
        ("ü".encode() * 4000 + "ü".encode()[:1], "cut.txt", "text/plain"),
        (b"", "empty.pdf", "application/octet-stream"),
    ],
)
def test_detect_content_type_trusts_bytes_over_names(head: bytes, name: str, expected: str) -> None:
    assert detect_content_type(head, name) == expected
