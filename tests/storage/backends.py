"""The S3 endpoints the storage contract runs against: what a test knows of each."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from clinifile.storage.s3 import S3Store, make_client
from tests import log_scan

EXTERNAL = "CLINIFILE_TEST_S3_"


@dataclass
class Backend:
    """One S3 endpoint and bucket, and a raw client to set objects up for a test."""

    name: str
    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str
    bucket: str
    # started by the tests, so a test may create (and remove) buckets in it
    owned: bool
    # a key this store refuses to hold (and to delete), if one is known
    refused_key: str | None
    client: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.client = make_client(
            self.endpoint_url, self.region, self.access_key_id, self.secret_access_key
        )

    def store(self, bucket: str | None = None, *, secret_access_key: str | None = None) -> S3Store:
        """A store as clinifile builds one, on this bucket unless told; a client of its own
        only for other credentials (a boto3 client takes ~0.3 s of CPU to build)."""
        client = self.client
        if secret_access_key is not None:
            client = make_client(
                self.endpoint_url, self.region, self.access_key_id, secret_access_key
            )
        return S3Store(client, bucket or self.bucket)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Stores data at key (not through the interface, which has no upload); its ETag."""
        answer = self.client.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
        )
        return str(answer["ETag"]).strip('"')

    def put_many(self, keys: Iterable[str], data: bytes = b"x") -> None:
        """Stores data at every key, eight requests at a time."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in pool.map(lambda key: self.put(key, data), keys):
                pass


def scratch_bucket() -> str:
    """A bucket name no store has yet."""
    return f"contract-{uuid.uuid4().hex[:20]}"


def seaweed(name: str, endpoint_url: str, access_key_id: str, secret: str) -> Backend:
    """A SeaweedFS the tests started, with a bucket of this session's own."""
    backend = Backend(
        name=name,
        endpoint_url=endpoint_url,
        region="us-east-1",
        access_key_id=access_key_id,
        secret_access_key=secret,
        bucket=scratch_bucket(),
        owned=True,
        # SeaweedFS answers 400 InvalidRequest for a key holding "..\"
        refused_key="..\\refused",
    )
    backend.store().ensure_bucket()
    return backend


def external() -> Backend:
    """The operator's S3 named by CLINIFILE_TEST_S3_*; a skip when there is none (CI
    provides none, so this skip is expected even under CI=true)."""
    endpoint_url = os.environ.get(EXTERNAL + "ENDPOINT_URL")
    if not endpoint_url:
        pytest.skip(f"{EXTERNAL}ENDPOINT_URL is not set: no external S3 to check")
    names = ("BUCKET", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY")
    missing = [EXTERNAL + n for n in names if not os.environ.get(EXTERNAL + n)]
    if missing:
        pytest.fail(f"{EXTERNAL}ENDPOINT_URL is set, but not {', '.join(missing)}")
    log_scan.remember_secret(os.environ[EXTERNAL + "SECRET_ACCESS_KEY"])
    return Backend(
        name="external",
        endpoint_url=endpoint_url,
        region=os.environ.get(EXTERNAL + "REGION") or "us-east-1",
        access_key_id=os.environ[EXTERNAL + "ACCESS_KEY_ID"],
        secret_access_key=os.environ[EXTERNAL + "SECRET_ACCESS_KEY"],
        bucket=os.environ[EXTERNAL + "BUCKET"],
        owned=False,
        refused_key=None,
    )
