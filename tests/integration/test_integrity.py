"""What is stored is what was uploaded: the worker records the SHA-256 of the upload, read
in the same streamed pass that detects its type, and deletes the upload only once the
permanent copy has the same SHA-256."""

from __future__ import annotations

import hashlib
import os

from clinifile.runtime import Runtime
from clinifile.services.object_keys import permanent_key
from tests import samples
from tests.crashes import crash_after, expire_lease
from tests.factories import Api, Tenant, s3_post, upload_url
from tests.objects import list_keys


def test_the_record_carries_the_sha256_of_the_uploaded_bytes(api: Api, tenant: Tenant) -> None:
    # several MiB: more than one chunk of the streamed read
    content = samples.pdf() + os.urandom(3 * 1024 * 1024 + 17)
    record = api.upload(tenant, "scan.pdf", content)
    assert record["checksum_sha256"] is None
    api.process_all()
    done = api.get(tenant, record["id"])
    assert done["checksum_sha256"] == hashlib.sha256(content).hexdigest()
    assert done["content_type"] == "application/pdf"
    assert api.download(tenant, record["id"]).content == content
    found = api.client.get(
        f"/v1/patient_attachments?q[]=checksum_sha256:={done['checksum_sha256']}",
        auth=tenant.auth,
    ).json()
    assert [r["id"] for r in found["patient_attachments"]] == [record["id"]]


def _plant_multipart(runtime: Runtime, key: str, content: bytes) -> str:
    """An object at key uploaded in one multipart part: its ETag ("...-1") is no MD5, so
    size and ETag cannot tell it from a good copy; returns the ETag."""
    store = runtime.store("au1")
    s3 = store._client  # type: ignore[attr-defined]
    upload = s3.create_multipart_upload(Bucket=store.bucket, Key=key)
    part = s3.upload_part(
        Bucket=store.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=content
    )
    done = s3.complete_multipart_upload(
        Bucket=store.bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    return str(done["ETag"]).strip('"')


def test_a_wrong_object_already_at_the_permanent_key_is_replaced_not_trusted(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    """A crashed earlier run (or anything else) left other bytes of the same size where the
    copy goes; the checksum, not the size and ETag, decides that it must be copied again."""
    content = samples.pdf("the real letter")
    record = api.upload(tenant, "letter.pdf", content)
    key = permanent_key(tenant.account_id, tenant.patient_id, int(record["id"]), "letter.pdf")
    etag = _plant_multipart(runtime, key, b"X" * len(content))
    assert "-" in etag
    api.process_all()
    done = api.get(tenant, record["id"])
    assert done["processing_completed"] is True
    assert done["checksum_sha256"] == hashlib.sha256(content).hexdigest()
    assert api.download(tenant, record["id"]).content == content
    keys = [o.key for o in list_keys(runtime.store("au1"), f"{tenant.account_id}/")]
    assert keys == [key], "the upload is deleted once the copy is verified"


def test_a_run_that_finds_the_upload_already_moved_records_its_checksum(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    """The state a crash between "delete the upload" and "record it" leaves."""
    content = samples.png()
    post = api.presign(tenant)
    assert s3_post(post, "x.png", content).status_code == 201
    record = api.register(tenant, upload_url(post, "x.png")).json()
    crash_after("delete", runtime, int(record["id"]))
    expire_lease(runtime, int(record["id"]))
    assert api.process_all() == 1
    done = api.get(tenant, record["id"])
    assert done["checksum_sha256"] == hashlib.sha256(content).hexdigest()
    assert done["content_type"] == "image/png"
