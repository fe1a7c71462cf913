"""Factories and helpers shared by the tests: accounts, keys, patients and the upload flow
as a client performs it (API → object store → API)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient

from clinifile.runtime import Runtime
from clinifile.services import accounts
from clinifile.worker.runner import Worker


@dataclass
class Tenant:
    account_id: int
    patient_id: int
    key: str
    region: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.key, "")


def make_tenant(
    runtime: Runtime,
    *,
    name: str = "Test clinic",
    region: str = "au1",
    plan: str = "paid",
    storage_limit_bytes: int | None = None,
) -> Tenant:
    account_id = accounts.create_account(
        runtime, name=name, region=region, plan=plan, storage_limit_bytes=storage_limit_bytes
    )
    return Tenant(
        account_id=account_id,
        patient_id=accounts.create_patient(
            runtime, account_id=account_id, first_name="Ada", last_name="Lovelace"
        ),
        key=accounts.create_api_key(runtime, account_id),
        region=region,
    )


def s3_post(
    post: dict[str, Any], filename: str, content: bytes, **field_overrides: str
) -> httpx.Response:
    """Step 2: the multipart POST to the object store, every field then the file last."""
    fields = {**post["fields"], **field_overrides}
    return httpx.post(post["url"], data=fields, files={"file": (filename, content)}, timeout=60)


def upload_url(post: dict[str, Any], filename: str) -> str:
    return post["url"] + post["fields"]["key"].replace("${filename}", filename)


class Api:
    """The API as a client calls it, plus the worker, for one test's runtime."""

    def __init__(self, client: TestClient, runtime: Runtime) -> None:
        self.client = client
        self.runtime = runtime

    def presign(self, tenant: Tenant, patient_id: int | None = None) -> dict[str, Any]:
        pid = patient_id or tenant.patient_id
        response = self.client.get(
            f"/v1/patients/{pid}/attachment_presigned_post", auth=tenant.auth
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def register(
        self, tenant: Tenant, url: str, patient_id: int | None = None, **extra: Any
    ) -> httpx.Response:
        body = {"patient_id": str(patient_id or tenant.patient_id), "upload_url": url, **extra}
        return self.client.post("/v1/patient_attachments", json=body, auth=tenant.auth)

    def upload(self, tenant: Tenant, filename: str, content: bytes, **extra: Any) -> dict[str, Any]:
        """Steps 1 to 3; returns the registered attachment."""
        post = self.presign(tenant)
        stored = s3_post(post, filename, content)
        assert stored.status_code == 201, stored.text
        response = self.register(tenant, upload_url(post, filename), **extra)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def process_all(self) -> int:
        return Worker(self.runtime, owner="test-worker").run_until_idle()

    def get(self, tenant: Tenant, attachment_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/patient_attachments/{attachment_id}", auth=tenant.auth)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def download(self, tenant: Tenant, attachment_id: str) -> httpx.Response:
        redirect = self.client.get(
            f"/v1/patient_attachments/{attachment_id}/content",
            auth=tenant.auth,
            follow_redirects=False,
        )
        assert redirect.status_code == 303, redirect.text
        return httpx.get(redirect.headers["location"], timeout=60)


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Polls until predicate() is truthy; fails with a clear message at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
