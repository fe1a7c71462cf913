"""Counts read as English: "1 second", "1 byte", in the API's messages and the client's."""

from __future__ import annotations

import pytest

from clinifile.client._uploads import format_size
from clinifile.errors import RateLimited


@pytest.mark.parametrize(
    ("seconds", "said"), [(1, "retry after 1 second"), (2, "retry after 2 seconds")]
)
def test_the_rate_limits_message_counts_its_seconds(seconds: int, said: str) -> None:
    assert str(RateLimited(200, 0, seconds)).endswith(said)


def test_sizes_count_their_bytes() -> None:
    assert [format_size(n) for n in (0, 1, 2, 1023)] == [
        "0 bytes",
        "1 byte",
        "2 bytes",
        "1023 bytes",
    ]
