from __future__ import annotations

import pytest

from clinifile.api.deps import parse_id
from clinifile.errors import NotFound
from clinifile.services.api_keys import hash_key, new_key, shard_of


@pytest.mark.parametrize("value", ["1", "42", str(2**63 - 1)])
def test_parse_id_accepts_64_bit_ids(value: str) -> None:
    assert parse_id(value) == int(value)


@pytest.mark.parametrize("value", ["0", "-1", "1.0", "abc", "١٢", str(2**63), "9" * 5000, ""])
def test_parse_id_refuses_anything_else_as_not_found(value: str) -> None:
    with pytest.raises(NotFound):
        parse_id(value)


def test_keys_carry_their_shard_and_are_stored_as_hashes() -> None:
    key = new_key("uk1")
    assert shard_of(key, "au1") == "uk1"
    assert shard_of("plainkey", "au1") == "au1"
    assert len(hash_key(key)) == 64 and key not in hash_key(key)
