"""Tenancy: two accounts with two patients each, and every path one account could take to
another's records, files or audit trail, and one patient's upload to another's.

Every attempt must be refused with the documented status and JSON body, show nothing of
the victim (its account id, its patients' names, its file names) and change no row and no
object anywhere.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from clinifile.db import attachments as attachments_db
from clinifile.runtime import Runtime
from clinifile.services import accounts
from clinifile.services.uploads import issue_temp_id
from tests import samples
from tests.factories import Api, Tenant, make_tenant, s3_post, upload_url
from tests.security.snapshot import snapshot


@dataclass
class Clinic:
    tenant: Tenant
    second_patient: int
    first_attachment: str  # the first patient's, processed
    second_attachment: str  # the second patient's, processed
    marker: str  # in its patients' names and its file names
    audit_events: list[str]
    pending_upload_url: str  # uploaded for the first patient, not registered

    @property
    def auth(self) -> tuple[str, str]:
        return self.tenant.auth


@dataclass
class World:
    victim: Clinic
    attacker: Clinic
    api: Api
    planted_url: str
    attackers_download_url: str  # a genuine one, for the attacker's own file

    def as_attacker(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._call(self.attacker, method, path, **kwargs)

    def as_victim(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._call(self.victim, method, path, **kwargs)

    def _call(self, who: Clinic, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.api.client.request(
            method, path, auth=who.auth, follow_redirects=False, **kwargs
        )


def _clinic(api: Api, runtime: Runtime, name: str) -> Clinic:
    marker = f"{name}{secrets.token_hex(6)}"
    tenant = make_tenant(runtime, name=marker)
    second = accounts.create_patient(
        runtime, account_id=tenant.account_id, first_name=marker, last_name=marker
    )
    first_record = api.upload(tenant, f"{marker}-1.pdf", samples.pdf(marker))
    post = api.presign(tenant, patient_id=second)
    assert s3_post(post, f"{marker}-2.pdf", samples.pdf(marker)).status_code == 201
    second_record = api.register(tenant, upload_url(post, f"{marker}-2.pdf"), second).json()
    pending = api.presign(tenant)
    assert s3_post(pending, f"{marker}-3.pdf", samples.pdf(marker)).status_code == 201
    api.process_all()
    events = api.client.get("/v1/audit_events", auth=tenant.auth).json()["audit_events"]
    return Clinic(
        tenant=tenant,
        second_patient=second,
        first_attachment=first_record["id"],
        second_attachment=second_record["id"],
        marker=marker,
        audit_events=[e["id"] for e in events],
        pending_upload_url=upload_url(pending, f"{marker}-3.pdf"),
    )


@pytest.fixture
def world(api: Api, runtime: Runtime) -> World:
    victim, attacker = _clinic(api, runtime, "victim"), _clinic(api, runtime, "attacker")
    planted = _plant_foreign_temp_id(runtime, attacker.tenant, victim.tenant)
    own = api.client.get(
        f"/v1/patient_attachments/{attacker.first_attachment}/content",
        auth=attacker.auth,
        follow_redirects=False,
    )
    return World(
        victim=victim,
        attacker=attacker,
        api=api,
        planted_url=planted,
        attackers_download_url=own.headers["location"],
    )


def _register(w: World, who: Clinic, patient_id: int, url: str) -> httpx.Response:
    body = {"patient_id": str(patient_id), "upload_url": url}
    return w.api.client.post("/v1/patient_attachments", json=body, auth=who.auth)


def _tampered_download(w: World) -> httpx.Response:
    """The attacker's own download URL with the key swapped for the victim's file."""
    with w.api.runtime.sessions() as session:
        record = attachments_db.get(
            session, w.victim.tenant.account_id, int(w.victim.first_attachment)
        )
        assert record is not None and record.permanent_key is not None
    bucket = w.api.runtime.settings.region("au1").bucket
    signed = httpx.URL(w.attackers_download_url)
    return httpx.get(signed.copy_with(path=f"/{bucket}/{record.permanent_key}"), timeout=30)


def _plant_foreign_temp_id(runtime: Runtime, attacker: Tenant, victim: Tenant) -> str:
    """An object at the attacker's own temp prefix under a temp id issued to the victim
    (planted with the store's own credentials); its upload_url."""
    foreign = issue_temp_id(runtime.secret, victim.account_id, victim.patient_id)
    key = f"{attacker.account_id}/patients/{attacker.patient_id}/attachments/temp/{foreign}/x.pdf"
    store = runtime.store("au1")
    store._client.put_object(Bucket=store.bucket, Key=key, Body=samples.pdf())  # type: ignore[attr-defined]
    return store.bucket_url + key


Attack = Callable[[World], httpx.Response]

# name: (attack, expected status); unless named otherwise the attacker holds its own key
ATTACKS: dict[str, tuple[Attack, int]] = {
    # reading another account's records
    "get attachment": (
        lambda w: w.as_attacker("GET", f"/v1/patient_attachments/{w.victim.first_attachment}"),
        404,
    ),
    "download attachment": (
        lambda w: w.as_attacker(
            "GET", f"/v1/patient_attachments/{w.victim.first_attachment}/content"
        ),
        404,
    ),
    "get patient": (
        lambda w: w.as_attacker("GET", f"/v1/patients/{w.victim.tenant.patient_id}"),
        404,
    ),
    "list patient's attachments": (
        lambda w: w.as_attacker(
            "GET", f"/v1/patients/{w.victim.tenant.patient_id}/patient_attachments"
        ),
        404,
    ),
    "get audit event": (
        lambda w: w.as_attacker("GET", f"/v1/audit_events/{w.victim.audit_events[0]}"),
        404,
    ),
    # listing and filtering towards another account's records
    "filter attachments by patient_id": (
        lambda w: w.as_attacker(
            "GET", f"/v1/patient_attachments?q[]=patient_id:={w.victim.tenant.patient_id}"
        ),
        200,
    ),
    "filter attachments by id": (
        lambda w: w.as_attacker(
            "GET",
            "/v1/patient_attachments?q[]=id:="
            f"{w.victim.first_attachment},{w.victim.second_attachment}",
        ),
        200,
    ),
    "filter attachments by file name": (
        lambda w: w.as_attacker("GET", f"/v1/patient_attachments?q[]=filename:~{w.victim.marker}"),
        200,
    ),
    "filter attachments with a LIKE wildcard": (
        lambda w: w.as_attacker(
            "GET", "/v1/patient_attachments?q[]=filename:~~%25&q[]=archived_at:*"
        ),
        200,
    ),
    "filter patients by name": (
        lambda w: w.as_attacker("GET", f"/v1/patients?q[]=first_name:={w.victim.marker}"),
        200,
    ),
    "filter patients by id, archived included": (
        lambda w: w.as_attacker(
            "GET",
            f"/v1/patients?q[]=id:={w.victim.tenant.patient_id},{w.victim.second_patient}"
            "&q[]=archived_at:*",
        ),
        200,
    ),
    "filter audit events by attachment": (
        lambda w: w.as_attacker(
            "GET", f"/v1/audit_events?q[]=attachment_id:={w.victim.first_attachment}"
        ),
        200,
    ),
    "page far past the end": (
        lambda w: w.as_attacker("GET", "/v1/patient_attachments?page=1000&per_page=100"),
        200,
    ),
    # writing to another account's records
    "describe attachment": (
        lambda w: w.as_attacker(
            "PATCH",
            f"/v1/patient_attachments/{w.victim.first_attachment}",
            json={"description": "mine now"},
        ),
        404,
    ),
    "archive attachment": (
        lambda w: w.as_attacker(
            "POST", f"/v1/patient_attachments/{w.victim.first_attachment}/archive"
        ),
        404,
    ),
    "delete attachment": (
        lambda w: w.as_attacker("DELETE", f"/v1/patient_attachments/{w.victim.first_attachment}"),
        404,
    ),
    "archive patient": (
        lambda w: w.as_attacker("POST", f"/v1/patients/{w.victim.tenant.patient_id}/archive"),
        404,
    ),
    "unarchive patient": (
        lambda w: w.as_attacker("POST", f"/v1/patients/{w.victim.tenant.patient_id}/unarchive"),
        404,
    ),
    "unarchive attachment": (
        lambda w: w.as_attacker(
            "POST", f"/v1/patient_attachments/{w.victim.first_attachment}/unarchive"
        ),
        404,
    ),
    "view attachment inline": (
        lambda w: w.as_attacker(
            "GET",
            f"/v1/patient_attachments/{w.victim.first_attachment}/content"
            "?disposition=inline&redirect=false",
        ),
        404,
    ),
    # uploading into another account
    "presign for the victim's patient": (
        lambda w: w.as_attacker(
            "GET", f"/v1/patients/{w.victim.tenant.patient_id}/attachment_presigned_post"
        ),
        404,
    ),
    "register the victim's upload for the victim's patient": (
        lambda w: _register(w, w.attacker, w.victim.tenant.patient_id, w.victim.pending_upload_url),
        422,
    ),
    "register the victim's upload for an own patient": (
        lambda w: _register(
            w, w.attacker, w.attacker.tenant.patient_id, w.victim.pending_upload_url
        ),
        422,
    ),
    "register a victim's temp id planted at an own prefix": (
        lambda w: _register(w, w.attacker, w.attacker.tenant.patient_id, w.planted_url),
        422,
    ),
    # downloading past the API
    "own download URL pointed at the victim's file": (_tampered_download, 403),
    # one patient's upload to another patient of the same account (the victim's own key)
    "register one patient's upload for another patient": (
        lambda w: _register(w, w.victim, w.victim.second_patient, w.victim.pending_upload_url),
        422,
    ),
    "list one patient's attachments filtered to another's": (
        lambda w: w.as_victim(
            "GET",
            f"/v1/patients/{w.victim.second_patient}/patient_attachments"
            f"?q[]=id:={w.victim.first_attachment}",
        ),
        200,
    ),
    # keys that are not the victim's
    "the victim's key with its shard changed": (
        lambda w: w.api.client.get(
            "/v1/patient_attachments", auth=(w.victim.tenant.key[:-4] + "-uk1", "")
        ),
        401,
    ),
    "the victim's key hashed": (
        lambda w: w.api.client.get(
            "/v1/patient_attachments",
            auth=(hashlib.sha256(w.victim.tenant.key.encode()).hexdigest(), ""),
        ),
        401,
    ),
    "the victim's key in upper case": (
        lambda w: w.api.client.get(
            "/v1/patient_attachments", auth=(w.victim.tenant.key.upper(), "")
        ),
        401,
    ),
    "the victim's key one character off": (
        lambda w: w.api.client.get(
            "/v1/patient_attachments",
            auth=(("0" if w.victim.tenant.key[0] != "0" else "1") + w.victim.tenant.key[1:], ""),
        ),
        401,
    ),
    "the victim's key as the password": (
        lambda w: w.api.client.get("/v1/patient_attachments", auth=("", w.victim.tenant.key)),
        401,
    ),
}


def _victims_data_in(text: str, victim: Clinic) -> list[str]:
    return [
        shown
        for shown in (victim.marker, str(victim.tenant.account_id), victim.tenant.key)
        if shown in text
    ]


def _victims_ids(victim: Clinic) -> dict[str, set[str]]:
    return {
        "patient_attachments": {victim.first_attachment, victim.second_attachment},
        "patients": {str(victim.tenant.patient_id), str(victim.second_patient)},
        "audit_events": set(victim.audit_events),
    }


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_is_refused_and_changes_nothing(world: World, attack: str) -> None:
    run, expected = ATTACKS[attack]
    before = snapshot(world.api.runtime)
    response = run(world)
    assert response.status_code == expected, response.text
    assert snapshot(world.api.runtime) == before
    assert "location" not in response.headers
    if expected == 403:  # the object store's answer: it echoes the key asked for, no bytes
        assert samples.pdf(world.victim.marker) not in response.content
        assert "SignatureDoesNotMatch" in response.text
        return
    shown = response.text
    if expected == 200:  # the attacker's own query comes back in links: leave that out
        shown = json.dumps({k: v for k, v in response.json().items() if k != "links"})
    assert not _victims_data_in(shown, world.victim)
    body = response.json()
    if expected == 200:
        kind, records = next((k, v) for k, v in body.items() if isinstance(v, list))
        assert not {r["id"] for r in records} & _victims_ids(world.victim)[kind]
        return
    assert isinstance(body["message"], str) and body["message"]
    if expected == 422:
        assert body["message"] == "Validation Failed"
        assert set(body["errors"]) <= {"patient_id", "temp_attachment_url"}


def test_the_victims_own_requests_still_work_after_the_attacks(world: World) -> None:
    """The attacks above are refused for being foreign, not because the paths are broken."""
    v = world.victim
    assert (
        world.as_victim("GET", f"/v1/patient_attachments/{v.first_attachment}").status_code == 200
    )
    content = world.as_victim("GET", f"/v1/patient_attachments/{v.first_attachment}/content")
    assert content.status_code == 303
    assert httpx.get(content.headers["location"], timeout=30).content == samples.pdf(v.marker)
    listing = world.as_victim("GET", f"/v1/patient_attachments?q[]=filename:~{v.marker}").json()
    assert listing["total_entries"] == 2
    assert _register(world, v, v.tenant.patient_id, v.pending_upload_url).status_code == 201
