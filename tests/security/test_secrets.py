"""Secrets: API keys are stored only as hashes, storage credentials and the server secret
never appear in an answer, and the scan of every log line of a test run (tests/log_scan.py)
finds what it looks for. The whole flow at DEBUG is in tests/client/test_logs.py."""

from __future__ import annotations

import hashlib

from clinifile.redaction import redact
from clinifile.runtime import Runtime
from tests import log_scan, samples
from tests.factories import Api, Tenant
from tests.security.snapshot import snapshot


def test_keys_are_stored_only_as_their_sha256(api: Api, tenant: Tenant, runtime: Runtime) -> None:
    api.upload(tenant, "a.pdf", samples.pdf())
    everything = repr(snapshot(runtime))
    assert tenant.key not in everything
    assert tenant.key.split("-")[0] not in everything
    assert hashlib.sha256(tenant.key.encode()).hexdigest() in everything


def test_no_answer_carries_a_storage_or_server_secret(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    secrets = [runtime.settings.s3_secret_access_key, runtime.secret.decode()]
    assert all(secrets)
    record = api.upload(tenant, "a.pdf", samples.pdf())
    api.process_all()
    answers = [
        api.client.get(
            f"/v1/patients/{tenant.patient_id}/attachment_presigned_post", auth=tenant.auth
        ),
        api.client.get(f"/v1/patient_attachments/{record['id']}", auth=tenant.auth),
        api.client.get(
            f"/v1/patient_attachments/{record['id']}/content",
            auth=tenant.auth,
            follow_redirects=False,
        ),
        api.client.get("/v1/patient_attachments", auth=tenant.auth),
        api.client.get("/v1/audit_events", auth=tenant.auth),
        api.register(tenant, "http://127.0.0.1:1/elsewhere"),
        api.client.get("/readyz"),
        api.client.get("/openapi.json"),
    ]
    for answer in answers:
        shown = answer.text + repr(dict(answer.headers))
        assert not [s for s in secrets if s in shown], answer.request.url


def test_the_log_scan_finds_what_it_looks_for() -> None:
    key = "ab" * 32 + "-au1"
    planted = [
        f"GET http://s3/b/k?X-Amz-Credential=AKIDEXAMPLE%2F2026&X-Amz-Signature={'f' * 64}",
        f"{{'x-amz-signature': '{'0' * 64}'}}",
        f"authenticated with {key}",
        "Authorization: Basic dGhpcyBpcyBhIGtleTo=",
        "the store secret is s3cr3t-value",
    ]
    found = log_scan.findings_in(planted, ["s3cr3t-value"])
    assert len(found) == 6  # the first line holds a credential and a signature
    assert log_scan.findings_in([redact(line) for line in planted[:4]], []) == []
