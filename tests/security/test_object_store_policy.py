"""A trial account's presigned post carries the storage it has left, and the store holds
the upload to it (step 2). The store's own enforcement of every condition of a presigned
post, on each backend, is the storage contract's: tests/storage/test_presigned.py."""

from __future__ import annotations

import base64
import json

from clinifile.runtime import Runtime
from tests.factories import Api, make_tenant, s3_post


def test_store_refuses_a_file_over_the_remaining_storage(api: Api, runtime: Runtime) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=1000)
    post = api.presign(trial)
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    too_big = s3_post(post, "big.bin", b"x" * 1001)
    assert too_big.status_code == 400
    assert "EntityTooLarge" in too_big.text
    assert s3_post(post, "fits.bin", b"x" * 1000).status_code == 201
