"""`clinifile previews rebuild`: files stored before previews existed get theirs, one
account's only when asked, resumably, at a bounded rate. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from clinifile.cli.main import app
from clinifile.runtime import Runtime
from clinifile.worker.rebuild import rebuild
from tests import preview_samples as ps
from tests.factories import Api, Tenant


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # the files are stored as by a clinifile from before previews
    return {"preview_enabled": False}


def clinifile(runtime: Runtime, *args: str) -> Any:
    env = {**runtime.settings.as_environment(), "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def _stored(api: Api, tenant: Tenant) -> list[str]:
    ids = [
        api.upload(tenant, "a.png", ps.image_bytes("PNG"))["id"],
        api.upload(tenant, "b.pdf", ps.pdf_with_red_square())["id"],
        api.upload(tenant, "notes.txt", b"words\n")["id"],
    ]
    api.process_all()
    assert all(api.get(tenant, i)["preview"] is None for i in ids)
    return ids


def test_rebuild_makes_the_missing_previews_of_one_account(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = _stored(api, tenant)
    theirs = api.upload(other_tenant, "c.png", ps.image_bytes("PNG"))["id"]
    api.process_all()
    result = clinifile(
        api.runtime, "previews", "rebuild", "--account", str(tenant.account_id), "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"files": 3, "states": {"ready": 2, "none": 1}}
    assert [api.get(tenant, i)["preview"] is not None for i in mine] == [True, True, False]
    assert api.get(other_tenant, theirs)["preview"] is None
    # done files are not done again
    again = clinifile(api.runtime, "previews", "rebuild", "--json")
    assert json.loads(again.stdout.strip().splitlines()[-1])["files"] == 1  # the other's


def test_rebuild_resumes_and_keeps_its_rate(api: Api, tenant: Tenant) -> None:
    _stored(api, tenant)
    first = rebuild(api.runtime, account_id=tenant.account_id, limit=1, per_second=100)
    assert first.seen == 1
    started = time.monotonic()
    rest = rebuild(api.runtime, account_id=tenant.account_id, per_second=4)
    assert rest.seen == 2  # the stopped run's file is not done twice
    assert time.monotonic() - started >= 2 / 4 - 0.05


def test_since_takes_newer_files_only(api: Api, tenant: Tenant) -> None:
    _stored(api, tenant)
    future = clinifile(api.runtime, "previews", "rebuild", "--since", "2999-01-01", "--json")
    assert json.loads(future.stdout.strip().splitlines()[-1])["files"] == 0
    past = clinifile(api.runtime, "previews", "rebuild", "--since", "2000-01-01", "--json")
    assert json.loads(past.stdout.strip().splitlines()[-1])["files"] == 3


@pytest.mark.parametrize("since", ["yesterday", "2026-13-45", "'; drop table attachments"])
def test_a_bad_since_is_a_usage_error(runtime: Runtime, since: str) -> None:
    result = clinifile(runtime, "previews", "rebuild", "--since", since)
    assert result.exit_code == 2
    assert "--since" in result.output
