"""The counts kept per account and per patient (db.counts) are COUNT(*)'s answer after any
mix of uploads, archivings and unarchivings, concurrent ones included, and after the
migration that counts existing rows; lists read them for total_entries."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import case, func, select, update

from clinifile.db import accounts as accounts_db
from clinifile.db import attachments as attachments_db
from clinifile.db.counts import ACCOUNT
from clinifile.db.migrate import downgrade, upgrade
from clinifile.db.models import Attachment, AttachmentCount
from clinifile.db.types import utcnow
from clinifile.domain.states import AttachmentState
from clinifile.runtime import Runtime
from clinifile.services import accounts
from tests.factories import Tenant, make_tenant, upload_url, wait_for
from tests.integration.test_size_counts import _banded, _kept
from tests.live_server import LiveServer


@pytest.fixture
def server(runtime: Runtime) -> Iterator[LiveServer]:
    live = LiveServer(runtime)
    live.start()
    yield live
    live.stop()


def _counted(runtime: Runtime) -> dict[tuple[int, int], tuple[int, int]]:
    with runtime.sessions() as session:
        rows = session.execute(select(AttachmentCount)).scalars().all()
        return {(r.account_id, r.patient_id): (r.live, r.archived) for r in rows}


def _actual(runtime: Runtime) -> dict[tuple[int, int], tuple[int, int]]:
    """COUNT(*) per patient and per account (patient ACCOUNT), live and archived."""
    live = func.sum(case((Attachment.archived_at.is_(None), 1), else_=0))
    archived = func.sum(case((Attachment.archived_at.is_(None), 0), else_=1))
    found: dict[tuple[int, int], tuple[int, int]] = {}
    with runtime.sessions() as session:
        for account_id, patient_id, n_live, n_archived in session.execute(
            select(Attachment.account_id, Attachment.patient_id, live, archived).group_by(
                Attachment.account_id, Attachment.patient_id
            )
        ):
            found[(account_id, patient_id)] = (int(n_live), int(n_archived))
            total = found.get((account_id, ACCOUNT), (0, 0))
            found[(account_id, ACCOUNT)] = (total[0] + n_live, total[1] + n_archived)
    return found


def _processed(runtime: Runtime) -> bool:
    with runtime.sessions() as session:
        states = session.scalars(select(Attachment.state).distinct()).all()
        return set(states) == {AttachmentState.COMPLETED}


class Caller:
    def __init__(self, server: LiveServer) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=60)

    def upload(self, tenant: Tenant, patient_id: int, n: int) -> str:
        post = self.http.get(
            f"/v1/patients/{patient_id}/attachment_presigned_post", auth=tenant.auth
        ).json()
        stored = httpx.post(
            post["url"], data=post["fields"], files={"file": (f"f{n}.txt", b"x" * n)}, timeout=60
        )
        assert stored.status_code == 201, stored.text
        body = {"patient_id": str(patient_id), "upload_url": upload_url(post, f"f{n}.txt")}
        made = self.http.post("/v1/patient_attachments", json=body, auth=tenant.auth)
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def archive(self, tenant: Tenant, attachment_id: str, *, back: bool = False) -> None:
        action = "unarchive" if back else "archive"
        done = self.http.post(f"/v1/patient_attachments/{attachment_id}/{action}", auth=tenant.auth)
        assert done.status_code in (200, 204), done.text

    def total(self, tenant: Tenant, path: str, *filters: str) -> int:
        listed = self.http.get(path, params={"q[]": list(filters)}, auth=tenant.auth)
        assert listed.status_code == 200, listed.text
        return int(listed.json()["total_entries"])


def test_counts_match_count_star_after_concurrent_mixed_operations(
    runtime: Runtime, server: LiveServer
) -> None:
    a, b = make_tenant(runtime), make_tenant(runtime, name="Other clinic")
    a2 = accounts.create_patient(runtime, account_id=a.account_id, first_name="B", last_name="C")
    patients = [(a, a.patient_id), (a, a2), (b, b.patient_id)]
    caller = Caller(server)
    # one after another: uploads, archivings (twice: idempotent), an unarchiving
    made = [(t, caller.upload(t, p, n + 1)) for n, (t, p) in enumerate(patients * 3)]
    for tenant, attachment_id in made[:4]:
        caller.archive(tenant, attachment_id)
        caller.archive(tenant, attachment_id)
    caller.archive(made[0][0], made[0][1], back=True)
    assert _counted(runtime) == _actual(runtime)

    # at once, from 8 threads (the worker processing what arrives meanwhile): more uploads,
    # and the same attachments archived and brought back by several callers racing
    rng = random.Random(19)
    work: list[Any] = [("upload", *rng.choice(patients), n) for n in range(12)]
    for tenant, attachment_id in made:
        for _ in range(4):
            work.append(("archive", tenant, attachment_id, rng.random() < 0.5))
    rng.shuffle(work)

    def run(step: tuple[Any, ...]) -> None:
        if step[0] == "upload":
            caller.upload(step[1], step[2], 100 + step[3])
        else:
            caller.archive(step[1], step[2], back=step[3])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(run, work))
    counted = _counted(runtime)
    assert counted == _actual(runtime)
    # the size bands, from the worker's completions (once it has done them all)
    wait_for(lambda: _processed(runtime))
    assert _kept(runtime) == _banded(runtime)
    assert (
        sum(
            counted[(t.account_id, ACCOUNT)][0] + counted[(t.account_id, ACCOUNT)][1]
            for t in (a, b)
        )
        == len(made) + 12
    )

    # the lists' total_entries: from the counts (no filter, archived or not) or counted
    for tenant, patient_id in patients:
        live, archived = counted[(tenant.account_id, patient_id)]
        path = f"/v1/patients/{patient_id}/patient_attachments"
        assert caller.total(tenant, path) == live
        assert caller.total(tenant, path, "archived_at:?") == archived
        assert caller.total(tenant, path, "archived_at:*") == live + archived
        assert caller.total(tenant, path, "id:?") == live
    for tenant in (a, b):
        live, archived = counted[(tenant.account_id, ACCOUNT)]
        assert caller.total(tenant, "/v1/patient_attachments") == live
        assert caller.total(tenant, "/v1/patient_attachments", "archived_at:*") == live + archived


def test_the_migration_counts_existing_rows(runtime: Runtime, database_url: str) -> None:
    a, b = make_tenant(runtime), make_tenant(runtime, name="Other clinic")
    with runtime.transaction() as session:
        user_id = accounts_db.first_user(session, a.account_id).id
        for n in range(7):
            tenant = a if n % 3 else b
            row = attachments_db.insert(
                session,
                account_id=tenant.account_id,
                patient_id=tenant.patient_id,
                user_id=user_id,
                region="au1",
                temp_key=f"migration-test/{tenant.account_id}/{n}",
                reserved_bytes=0,
            )
            if n % 2:
                attachments_db.update_fields(session, row, archived_at=utcnow())
    counted = _counted(runtime)
    assert counted == _actual(runtime)
    assert counted[(a.account_id, ACCOUNT)] == (2, 2)
    runtime.engine.dispose()
    downgrade(database_url, "0007")
    upgrade(database_url)
    assert _counted(runtime) == counted


def test_lists_take_total_entries_from_the_counts(runtime: Runtime, server: LiveServer) -> None:
    """A list without filters reads the count (a count set by hand shows); one whose
    filters narrow it counts its rows."""
    tenant = make_tenant(runtime)
    caller = Caller(server)
    caller.upload(tenant, tenant.patient_id, 5)
    with runtime.transaction() as session:
        session.execute(
            update(AttachmentCount)
            .where(AttachmentCount.account_id == tenant.account_id)
            .values(live=1234)
        )
    assert caller.total(tenant, "/v1/patient_attachments") == 1234
    assert caller.total(tenant, f"/v1/patients/{tenant.patient_id}/patient_attachments") == 1234
    assert caller.total(tenant, "/v1/patient_attachments", "id:?") == 1
    assert caller.total(tenant, "/v1/patient_attachments", "archived_at:?") == 0
