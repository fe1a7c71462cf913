"""What an operator does at the command line: `clinifile quarantine ls|release|delete` and
`clinifile rescan`, against a real clamd, checked as the clinic then sees it (records,
downloads, storage, the audit trail) and in the store itself."""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from clinifile.cli.main import app
from clinifile.db import accounts as accounts_db
from clinifile.db.models import Attachment
from clinifile.runtime import Runtime
from clinifile.worker.rescan import rescan
from tests import samples
from tests.clamav import EICAR, ClamdService, hash_signature, zipped
from tests.factories import Api, Tenant, make_tenant
from tests.objects import list_keys

WIDE = {"COLUMNS": "250", "TERMINAL_WIDTH": "250"}


@pytest.fixture
def settings_overrides(clamd: ClamdService) -> dict[str, object]:
    return {"scan": "clamd", "clamd_address": clamd.address}


def clinifile(runtime: Runtime, *args: str) -> Any:
    """The command as an operator runs it on the server, with its settings."""
    env = {**runtime.settings.as_environment(), **WIDE}
    return CliRunner().invoke(app, list(args), env=env)


def _row(runtime: Runtime, attachment_id: str) -> Attachment:
    with runtime.sessions() as session:
        row = session.get(Attachment, int(attachment_id))
        assert row is not None
        return row


def _used(runtime: Runtime, account_id: int) -> int:
    with runtime.sessions() as session:
        account = accounts_db.get(session, account_id)
        assert account is not None
        return account.storage_used_bytes


def _keys(runtime: Runtime, tenant: Tenant) -> list[str]:
    return sorted(o.key for o in list_keys(runtime.store("au1"), f"{tenant.account_id}/"))


def _events(api: Api, tenant: Tenant, attachment_id: str) -> list[dict[str, Any]]:
    response = api.client.get(
        "/v1/audit_events",
        params={"q[]": f"attachment_id:={attachment_id}", "sort": "id"},
        auth=tenant.auth,
    )
    assert response.status_code == 200, response.text
    return response.json()["audit_events"]  # type: ignore[no-any-return]


def test_an_operator_lists_releases_and_deletes_quarantined_files(
    api: Api, runtime: Runtime, tenant: Tenant
) -> None:
    kept = api.upload(tenant, "eicar.com", EICAR)
    doomed_bytes = zipped(("e.txt", EICAR))
    doomed = api.upload(tenant, "mail.zip", doomed_bytes)
    clean = api.upload(tenant, "a.pdf", samples.pdf())
    assert api.process_all() == 3

    listed = clinifile(runtime, "quarantine", "ls", "--json")
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)
    assert [i["id"] for i in items] == [kept["id"], doomed["id"]]
    assert all(i["signature"].startswith("Clinifile.Test.EICAR") for i in items)
    assert [i["size"] for i in items] == [len(EICAR), len(doomed_bytes)]
    assert {i["account_id"] for i in items} == {str(tenant.account_id)}
    table = clinifile(runtime, "quarantine", "ls", "--account", str(tenant.account_id))
    assert table.exit_code == 0 and kept["id"] in table.stdout and "eicar.com" in table.stdout

    released = clinifile(
        runtime, "quarantine", "release", kept["id"], "--reason", "the EICAR test file, on purpose"
    )
    assert released.exit_code == 0, released.output
    shown = api.get(tenant, kept["id"])
    assert (shown["processing_state"], shown["processing_completed"]) == ("completed", True)
    assert shown["processing_error"] is None
    assert shown["scan"]["status"] == "infected", "the record still says what was found"
    assert api.download(tenant, kept["id"]).content == EICAR
    actions = [
        e["action"].removeprefix("patient_attachment.") for e in _events(api, tenant, kept["id"])
    ]
    assert actions == ["create", "quarantine", "release", "download"]
    release_event = _events(api, tenant, kept["id"])[2]
    assert release_event["reason"] == "the EICAR test file, on purpose"
    assert "quarantine release" in release_event["user_agent"]

    deleted = clinifile(runtime, "quarantine", "delete", doomed["id"])
    assert deleted.exit_code == 0, deleted.output
    shown = api.get(tenant, doomed["id"])
    assert (shown["processing_state"], shown["processing_completed"]) == ("failed", False)
    assert "an administrator deleted it" in shown["processing_error"]
    assert "Clinifile.Test.EICAR" in shown["processing_error"]
    assert _events(api, tenant, doomed["id"])[-1]["action"] == "patient_attachment.delete"

    assert _keys(runtime, tenant) == sorted(
        [_row(runtime, kept["id"]).permanent_key, _row(runtime, clean["id"]).permanent_key]
    )
    assert _used(runtime, tenant.account_id) == len(EICAR) + len(samples.pdf())
    assert json.loads(clinifile(runtime, "quarantine", "ls", "--json").stdout) == []


def test_release_and_delete_refuse_what_is_not_quarantined(
    api: Api, runtime: Runtime, tenant: Tenant
) -> None:
    clean = api.upload(tenant, "a.pdf", samples.pdf())
    infected = api.upload(tenant, "e.com", EICAR)
    assert api.process_all() == 2
    before = (_keys(runtime, tenant), _used(runtime, tenant.account_id))
    attempts = [
        ("release", clean["id"], "--reason", "why not"),
        ("delete", clean["id"]),
        ("release", "999999999", "--reason", "why not"),
        ("delete", "999999999"),
        ("release", infected["id"], "--reason", "   "),
        ("release", "12abc", "--reason", "x"),
    ]
    for attempt in attempts:
        result = clinifile(runtime, "quarantine", *attempt)
        assert result.exit_code == 2, (attempt, result.output)
        assert "Traceback" not in result.output
    assert "not found" in clinifile(runtime, "quarantine", "delete", clean["id"]).output
    assert (_keys(runtime, tenant), _used(runtime, tenant.account_id)) == before
    assert api.get(tenant, clean["id"])["processing_state"] == "completed"
    assert api.get(tenant, infected["id"])["processing_state"] == "quarantined"


def test_rescan_quarantines_a_file_a_new_signature_finds_and_its_downloads_stop(
    api: Api, runtime: Runtime, tenant: Tenant, clamd: ClamdService
) -> None:
    later = b"%PDF-1.4\n% a referral that a later signature finds " + secrets.token_bytes(64)
    bad = api.upload(tenant, "referral.pdf", later)
    good = api.upload(tenant, "letter.pdf", samples.pdf())
    assert api.process_all() == 2
    before = _row(runtime, bad["id"])
    assert before.scan_status == "clean"
    link = api.client.get(
        f"/v1/patient_attachments/{bad['id']}/content?redirect=false", auth=tenant.auth
    ).json()["url"]
    assert httpx.get(link).content == later

    version = clamd.add_signature(hash_signature(later, "Clinifile.Test.Later"))
    assert version != before.scan_signature_version
    run = clinifile(runtime, "rescan", "--account", str(tenant.account_id))
    assert run.exit_code == 0, run.output
    assert f"rescanned 2 files with {version}: 1 clean, 1 quarantined" in run.stdout
    assert f"attachment {bad['id']}: Clinifile.Test.Later" in run.stderr

    shown = api.get(tenant, bad["id"])
    assert shown["processing_state"] == "quarantined"
    assert shown["scan"]["signature"].startswith("Clinifile.Test.Later")
    assert shown["scan"]["scanned_at"] >= before.scanned_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _row(runtime, bad["id"]).scan_signature_version == version
    assert httpx.get(link).status_code in (403, 404), "a link signed before stops working"
    refused = api.client.get(f"/v1/patient_attachments/{bad['id']}/content", auth=tenant.auth)
    assert refused.status_code == 409 and "Clinifile.Test.Later" in refused.json()["message"]
    assert _events(api, tenant, bad["id"])[-1]["action"] == "patient_attachment.quarantine"
    assert "rescan" in _events(api, tenant, bad["id"])[-1]["user_agent"]
    assert _used(runtime, tenant.account_id) == len(later) + len(samples.pdf())

    assert _row(runtime, good["id"]).scan_signature_version == version
    assert api.download(tenant, good["id"]).content == samples.pdf()
    again = clinifile(runtime, "rescan", "--account", str(tenant.account_id))
    assert "rescanned 0 files" in again.stdout, "nothing left to scan with these signatures"


def test_a_stopped_rescan_goes_on_where_it_was_and_keeps_to_its_filters(
    api: Api, runtime: Runtime, tenant: Tenant, clamd: ClamdService
) -> None:
    ids = [api.upload(tenant, f"{i}.pdf", samples.pdf(f"letter {i}"))["id"] for i in range(3)]
    other = make_tenant(runtime, name="Other clinic")
    elsewhere = api.upload(other, "x.pdf", samples.pdf("theirs"))
    assert api.process_all() == 4
    version = clamd.add_signature(hash_signature(secrets.token_bytes(32), "Clinifile.Test.New"))

    future = clinifile(runtime, "rescan", "--since", "2999-01-01")
    assert future.exit_code == 0 and "rescanned 0 files" in future.stdout
    bad = clinifile(runtime, "rescan", "--since", "last tuesday")
    assert bad.exit_code == 2 and "--since" in bad.output

    stop = threading.Event()
    first = rescan(
        runtime,
        actor="test",
        account_id=tenant.account_id,
        stop=stop,
        progress=lambda row, report: stop.set(),  # Ctrl-C after the first file
    )
    assert first.scanned == 1
    rest = clinifile(runtime, "rescan", "--account", str(tenant.account_id), "--rate", "50")
    assert "rescanned 2 files" in rest.stdout, rest.output
    assert {_row(runtime, i).scan_signature_version for i in ids} == {version}
    assert _row(runtime, elsewhere["id"]).scan_signature_version != version


def test_rescan_needs_a_scanner(api: Api, runtime: Runtime) -> None:
    env = {**runtime.settings.as_environment(), "CLINIFILE_SCAN": "off"}
    result = CliRunner().invoke(app, ["rescan"], env=env)
    assert result.exit_code == 2 and "no clamd" in result.output
