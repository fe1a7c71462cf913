"""Every link in every record clinifile returns resolves, for the key that was given it: the
test walks them all, from every list and record, and follows what it finds."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from clinifile.api.presenters import attachment_at
from clinifile.runtime import Runtime
from clinifile.worker.runner import WorkerPool
from tests import log_scan, samples
from tests.factories import Api, Tenant, wait_for
from tests.receivers import receiver

# what each kind of link looks like; the walk must meet every one
KINDS = {
    "patients list": r"/v1/patients\?",
    "patient": r"/v1/patients/\d+$",
    "patient's attachments": r"/v1/patients/\d+/patient_attachments",
    "attachments list": r"/v1/patient_attachments\?",
    "attachment": r"/v1/patient_attachments/\d+$",
    "content": r"/v1/patient_attachments/\d+/content$",
    "user": r"/v1/users/\d+$",
    "audit events list": r"/v1/audit_events\?",
    "audit event": r"/v1/audit_events/\d+$",
    "account": r"/v1/account$",
    "webhook endpoints list": r"/v1/webhook_endpoints\?",
    "webhook endpoint": r"/v1/webhook_endpoints/\d+$",
    "deliveries": r"/v1/webhook_endpoints/\d+/deliveries(\?.*)?$",
    "delivery": r"/v1/webhook_endpoints/\d+/deliveries/\d+$",
    "patient cases list": r"/v1/patient_cases\?",
    "patient case": r"/v1/patient_cases/\d+$",
    "case's attachments": r"/v1/patient_cases/\d+/patient_attachments",
}

START = [
    "/v1/patients?per_page=1",
    "/v1/patient_attachments?per_page=1&q[]=archived_at:*",
    "/v1/audit_events?per_page=2",
    "/v1/account",
    "/v1/user",
    "/v1/webhook_endpoints?per_page=1",
    "/v1/patient_cases?per_page=1",
]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"webhook_allow_private": True, "webhook_poll_seconds": 0.05}


def _links(body: Any) -> Iterator[str]:
    """Every URL under a `links` object, at any depth."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "links" and isinstance(value, dict):
                yield from (v for v in value.values() if isinstance(v, str))
            else:
                yield from _links(value)
    elif isinstance(body, list):
        for item in body:
            yield from _links(item)


def _fill(api: Api, runtime: Runtime, tenant: Tenant) -> None:
    """An account with one of everything: processed, archived and pending attachments,
    audit events, a second user, a patient case, and a webhook endpoint that has delivered."""
    with receiver() as hook:
        endpoint = api.client.post(
            "/v1/webhook_endpoints",
            json={"url": hook.url, "events": ["patient_attachment.created"]},
            auth=tenant.auth,
        ).json()
        log_scan.remember_secret(endpoint["secret"])
        pool = WorkerPool(runtime, concurrency=1, render=attachment_at)
        pool.start()
        try:
            done = api.upload(tenant, "a.pdf", samples.pdf())
            archived = api.upload(tenant, "b.png", samples.png())
            api.process_all()
            api.upload(tenant, "c.txt", samples.TEXT)  # left pending
            wait_for(lambda: len(hook.requests) == 3)
        finally:
            pool.stop(5)
    api.client.post(f"{archived['links']['self']}/archive", auth=tenant.auth)
    assert api.download(tenant, done["id"]).status_code == 200
    case = api.client.post(
        f"/v1/patients/{tenant.patient_id}/patient_cases",
        json={"name": "Knee", "patient_attachment_ids": [done["id"], archived["id"]]},
        auth=tenant.auth,
    )
    assert case.status_code == 201, case.text


def test_every_link_resolves_for_the_same_key(api: Api, runtime: Runtime, tenant: Tenant) -> None:
    _fill(api, runtime, tenant)
    base = str(api.client.base_url).rstrip("/")
    queue = deque(base + path for path in START)
    seen: set[str] = set()
    kinds: set[str] = set()
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        assert url.startswith(base), f"a link leaves the API: {url}"
        response = api.client.get(url, auth=tenant.auth, follow_redirects=False)
        if response.status_code == 303:  # the content link: a presigned GET of the store
            response = httpx.get(response.headers["location"], timeout=30)
            assert response.status_code == 200, url
            kinds.add("content")
            continue
        assert response.status_code == 200, f"{url}: {response.status_code} {response.text}"
        path = url[len(base) :]
        kinds |= {kind for kind, pattern in KINDS.items() if re.search(pattern, path)}
        queue.extend(link for link in _links(response.json()) if link not in seen)
    assert set(KINDS) - kinds == set(), f"never met: {set(KINDS) - kinds}"
    assert len(seen) > 30
