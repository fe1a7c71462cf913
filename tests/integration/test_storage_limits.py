"""Trial storage limits hold at every step, also under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from clinifile.db import accounts as accounts_db
from clinifile.db.models import Attachment
from clinifile.runtime import Runtime
from clinifile.services import accounts
from tests.factories import Api, Tenant, make_tenant, s3_post, upload_url
from tests.objects import list_keys


def _used(runtime: Runtime, tenant: Tenant) -> int:
    with runtime.sessions() as session:
        account = accounts_db.get(session, tenant.account_id)
        assert account is not None
        return account.storage_used_bytes


def test_trial_accounts_get_the_default_limit(runtime: Runtime) -> None:
    account_id = accounts.create_account(runtime, name="T", region="au1", plan="trial")
    with runtime.sessions() as session:
        account = accounts_db.get(session, account_id)
        assert account is not None
        assert account.storage_limit_bytes == 100 * 1024 * 1024


def test_presign_with_no_storage_left_is_422_base(api: Api, runtime: Runtime) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=100)
    api.upload(trial, "a.bin", b"x" * 100)
    response = api.client.get(
        f"/v1/patients/{trial.patient_id}/attachment_presigned_post", auth=trial.auth
    )
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == "Validation Failed"
    assert "storage limit" in body["errors"]["base"]


def test_register_over_the_limit_is_422_and_stores_nothing(api: Api, runtime: Runtime) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=1000)
    first, second = api.presign(trial), api.presign(trial)  # each allows 1000 bytes
    assert s3_post(first, "a.bin", b"a" * 600).status_code == 201
    assert s3_post(second, "b.bin", b"b" * 600).status_code == 201
    assert api.register(trial, upload_url(first, "a.bin")).status_code == 201
    refused = api.register(trial, upload_url(second, "b.bin"))
    assert refused.status_code == 422
    assert "storage limit" in refused.json()["errors"]["base"]
    assert _used(runtime, trial) == 600
    api.process_all()
    assert _used(runtime, trial) == 600


def test_concurrent_registrations_never_pass_the_limit(api: Api, runtime: Runtime) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=10_000)
    posts = [api.presign(trial) for _ in range(20)]
    for i, post in enumerate(posts):
        assert s3_post(post, f"{i}.bin", b"z" * 1000).status_code == 201

    def register(i: int) -> int:
        return api.register(trial, upload_url(posts[i], f"{i}.bin")).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(register, range(20)))
    assert statuses.count(201) == 10
    assert statuses.count(422) == 10
    api.process_all()
    assert _used(runtime, trial) == 10_000
    stored = list_keys(runtime.store("au1"), f"{trial.account_id}/")
    assert sum(o.size for o in stored if "/temp/" not in o.key) == 10_000


def test_archived_attachments_still_count(api: Api, runtime: Runtime) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=100)
    record = api.upload(trial, "a.bin", b"x" * 100)
    api.process_all()
    assert (
        api.client.post(
            f"/v1/patient_attachments/{record['id']}/archive", auth=trial.auth
        ).status_code
        == 204
    )
    assert _used(runtime, trial) == 100
    response = api.client.get(
        f"/v1/patients/{trial.patient_id}/attachment_presigned_post", auth=trial.auth
    )
    assert response.status_code == 422


def test_processing_refuses_an_object_replaced_by_a_larger_one(api: Api, runtime: Runtime) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=1000)
    post = api.presign(trial)
    assert s3_post(post, "a.bin", b"a" * 100).status_code == 201
    record = api.register(trial, upload_url(post, "a.bin")).json()
    # the same presigned post lets the client overwrite the object before processing
    assert s3_post(post, "a.bin", b"a" * 1000).status_code == 201
    other = api.presign(trial)  # nothing reserved for it: 900 bytes remain
    assert s3_post(other, "b.bin", b"b" * 900).status_code == 201
    assert api.register(trial, upload_url(other, "b.bin")).status_code == 201
    api.process_all()
    with runtime.sessions() as session:
        first = session.get(Attachment, int(record["id"]))
        assert first is not None
        assert first.state == "failed"
        assert "storage limit" in (first.failure_reason or "")
    assert _used(runtime, trial) == 900
    keys = [o.key for o in list_keys(runtime.store("au1"), f"{trial.account_id}/")]
    assert len(keys) == 1 and keys[0].endswith("/b.bin")


def test_processing_counts_the_real_size_when_the_object_shrank(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    post = api.presign(tenant)
    assert s3_post(post, "a.bin", b"a" * 500).status_code == 201
    record = api.register(tenant, upload_url(post, "a.bin")).json()
    assert s3_post(post, "a.bin", b"a" * 200).status_code == 201
    api.process_all()
    assert api.get(tenant, record["id"])["size"] == 200
    assert _used(runtime, tenant) == 200
