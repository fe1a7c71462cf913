"""The object store itself enforces the presigned policy (step 2)."""

from __future__ import annotations

import base64
import json

from clinifile.runtime import Runtime
from tests import samples
from tests.factories import Api, Tenant, make_tenant, s3_post


def test_store_refuses_a_tampered_key(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    post = api.presign(tenant)
    foreign = api.presign(other_tenant)["fields"]["key"]
    response = s3_post(post, "a.pdf", samples.pdf(), key=foreign)
    assert response.status_code == 403


def test_store_refuses_a_tampered_policy(api: Api, tenant: Tenant) -> None:
    post = api.presign(tenant)
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    for condition in policy["conditions"]:
        if isinstance(condition, list) and condition[0] == "content-length-range":
            condition[2] = 10 * 1024**4
    forged = base64.b64encode(json.dumps(policy).encode()).decode()
    assert s3_post(post, "a.pdf", samples.pdf(), policy=forged).status_code == 403


def test_store_refuses_a_changed_acl(api: Api, tenant: Tenant) -> None:
    post = api.presign(tenant)
    assert s3_post(post, "a.pdf", samples.pdf(), acl="public-read").status_code == 403


def test_store_refuses_an_expired_policy(tenant: Tenant, runtime: Runtime) -> None:
    store = runtime.store("au1")
    prefix = f"{tenant.account_id}/patients/{tenant.patient_id}/attachments/temp/x/"
    expired = store.presign_post(prefix, 1024, expires_in=-60)
    post = {"url": expired.url, "fields": expired.fields}
    response = s3_post(post, "a.pdf", samples.pdf())
    assert response.status_code == 403


def test_store_refuses_a_file_over_the_remaining_storage(api: Api, runtime: Runtime) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=1000)
    post = api.presign(trial)
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    too_big = s3_post(post, "big.bin", b"x" * 1001)
    assert too_big.status_code == 400
    assert "EntityTooLarge" in too_big.text
    assert s3_post(post, "fits.bin", b"x" * 1000).status_code == 201


def test_store_refuses_an_empty_file(api: Api, tenant: Tenant) -> None:
    post = api.presign(tenant)
    assert s3_post(post, "empty.pdf", b"").status_code == 400
