"""The size bands kept per account (db.size_counts) are what counting the rows gives, after
completions, quarantines (a deleted one keeps its size), failures, archivings and
unarchivings, racing ones included, and after the migration that counts existing rows; a
list filtered by size reads them for an exact total_entries at and around every band's
edges, and a hostile size keeps its answer."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select, text

from clinifile.db import attachments as attachments_db
from clinifile.db import completions, quarantine, size_counts
from clinifile.db.accounts import first_user
from clinifile.db.migrate import downgrade, upgrade
from clinifile.db.models import Attachment, AttachmentSizeCount
from clinifile.db.types import utcnow
from clinifile.domain.queries import Filter, ListQuery
from clinifile.runtime import Runtime
from clinifile.services import accounts
from tests.factories import Api, Tenant, make_tenant

OWNER = "size-counts-test"
_KEYS = itertools.count()
BIG = 2**63 - 1
# 0, 1, the exact sizes' last and the first banded, powers of two and their neighbours
# (band edges), inside bands, and the largest sizes a BIGINT holds
SIZES = sorted(
    {0, 1, 2, 62, 63, 64, 65, 66, 67, 127, 128, 129, 130, 500, 503, 504, 511, 512, 513}
    | {4095, 4096, 4097, 2**20 - 1, 2**20, 2**20 + 1, 2**20 + 2**15, 2**40 + 12345}
    | {2**62 - 1, 2**62, 2**62 + 2**57, BIG - 1, BIG}
)
BOUNDS = sorted(
    {v + d for v in SIZES for d in (-1, 0, 1) if abs(v + d) <= BIG} | {-5, -BIG, 2**20 + 2**14}
)
FATES = (
    "completed",
    "archived",
    "unarchived",
    "archived while processing",
    "quarantined",
    "quarantined and deleted",
    "inserted with its size",
)
OPS: dict[str, Callable[[int, int], bool]] = {
    ">=": lambda s, v: s >= v,
    ">": lambda s, v: s > v,
    "<=": lambda s, v: s <= v,
    "<": lambda s, v: s < v,
}


def _claim(runtime: Runtime) -> int:
    with runtime.transaction() as session:
        job = attachments_db.claim_next(session, owner=OWNER, lease_seconds=600)
        assert job is not None
        return job.id


def _insert(runtime: Runtime, tenant: Tenant, patient_id: int, **fields: Any) -> int:
    with runtime.transaction() as session:
        row = attachments_db.insert(
            session,
            account_id=tenant.account_id,
            patient_id=patient_id,
            user_id=first_user(session, tenant.account_id).id,
            region="au1",
            temp_key=f"size-counts/{tenant.account_id}/{next(_KEYS)}",
            reserved_bytes=0,
            **fields,
        )
        return row.id


def _archive(runtime: Runtime, tenant: Tenant, attachment_id: int, *, back: bool = False) -> None:
    with runtime.transaction() as session:
        row = attachments_db.get(session, tenant.account_id, attachment_id)
        assert row is not None
        attachments_db.update_fields(session, row, archived_at=None if back else utcnow())


def _complete(runtime: Runtime, attachment_id: int, size: int) -> None:
    with runtime.transaction() as session:
        assert completions.mark_completed(
            session,
            attachment_id,
            OWNER,
            **{
                **dict.fromkeys(completions.COMPLETION_FIELDS),
                "size": size,
                "filename": "f.txt",
                "processed_at": utcnow(),
            },
        )


def _quarantine(runtime: Runtime, tenant: Tenant, attachment_id: int, size: int) -> None:
    with runtime.transaction() as session:
        assert attachments_db.mark_quarantined(
            session,
            attachment_id,
            OWNER,
            size=size,
            filename="f.exe",
            quarantine_key=f"q/{attachment_id}",
            failure_reason="infected",
        )


def _make(runtime: Runtime, tenant: Tenant, patient_id: int, size: int, fate: str) -> None:
    """One attachment of this size, brought to its fate the way clinifile brings it there."""
    if fate == "inserted with its size":
        attachment_id = _insert(runtime, tenant, patient_id, size=size)
        assert _claim(runtime) == attachment_id
        return  # left processing (not due again)
    attachment_id = _insert(runtime, tenant, patient_id)
    assert _claim(runtime) == attachment_id
    if fate == "archived while processing":
        _archive(runtime, tenant, attachment_id)
    if fate.startswith("quarantined"):
        _quarantine(runtime, tenant, attachment_id, size)
    else:
        _complete(runtime, attachment_id, size)
    if fate == "quarantined and deleted":
        with runtime.transaction() as session:
            assert quarantine.discard(
                session,
                attachment_id,
                account_id=tenant.account_id,
                reserved_bytes=0,
                reason="deleted by an operator",
            )
    if fate in ("archived", "unarchived"):
        _archive(runtime, tenant, attachment_id)
    if fate == "unarchived":
        _archive(runtime, tenant, attachment_id, back=True)


def _clinic(runtime: Runtime, tenant: Tenant, sizes: list[int]) -> int:
    """The sizes in every fate, shared between two patients, beside attachments without a
    size (failed, pending; one of each archived); returns the second patient. Leaves due
    jobs (pending): make every clinic before claiming anything else."""
    second = accounts.create_patient(
        runtime, account_id=tenant.account_id, first_name="B", last_name="Second"
    )
    patients = itertools.cycle([tenant.patient_id, second, second])
    for n, size in enumerate(sizes):
        _make(runtime, tenant, next(patients), size, FATES[n % len(FATES)])
    for archived in (False, True):
        failed = _insert(runtime, tenant, second)
        assert _claim(runtime) == failed
        with runtime.transaction() as session:
            assert attachments_db.mark_failed(
                session, failed, OWNER, reason="x", account_id=tenant.account_id, reserved_bytes=0
            )
        if archived:
            _archive(runtime, tenant, failed)
    return second


def _pending(runtime: Runtime, tenant: Tenant) -> None:
    """Two attachments waiting for processing (no size yet), one archived."""
    _insert(runtime, tenant, tenant.patient_id)
    _archive(runtime, tenant, _insert(runtime, tenant, tenant.patient_id))


def _kept(runtime: Runtime) -> dict[tuple[int, int], tuple[int, int]]:
    with runtime.sessions() as session:
        rows = session.scalars(select(AttachmentSizeCount)).all()
        live: Counter[tuple[int, int]] = Counter()
        archived: Counter[tuple[int, int]] = Counter()
        for r in rows:  # a band's stripes summed
            live[(r.account_id, r.size_from)] += r.live
            archived[(r.account_id, r.size_from)] += r.archived
        kept = {k: (live[k], archived[k]) for k in live.keys() | archived.keys()}
        return {k: v for k, v in kept.items() if v != (0, 0)}


def _rows(runtime: Runtime) -> list[Any]:
    with runtime.sessions() as session:
        return list(
            session.execute(
                select(
                    Attachment.account_id,
                    Attachment.patient_id,
                    Attachment.size,
                    Attachment.archived_at,
                )
            )
        )


def _banded(runtime: Runtime) -> dict[tuple[int, int], tuple[int, int]]:
    """The bands counted from the rows, in Python."""
    live: Counter[tuple[int, int]] = Counter()
    archived: Counter[tuple[int, int]] = Counter()
    for row in _rows(runtime):
        if row.size is not None:
            key = (row.account_id, size_counts.band(row.size))
            (live if row.archived_at is None else archived)[key] += 1
    return {k: (live[k], archived[k]) for k in live.keys() | archived.keys()}


def _brute(rows: list[Any], account_id: int, patient_id: int | None, filters: list[Filter]) -> int:
    """COUNT(*) of the list, by reading every row."""
    states = {"?": {True}, "!?": {False}, "*": {True, False}}
    n = 0
    for row in rows:
        if row.account_id != account_id or patient_id not in (None, row.patient_id):
            continue
        wanted = {False}
        ok = True
        for f in filters:
            if f.field == "archived_at":
                wanted = states[f.op]
            else:
                ok = (
                    ok
                    and row.size is not None
                    and (f.op == "?" or OPS[f.op](row.size, f.values[0]))
                )
        n += ok and (row.archived_at is not None) in wanted
    return n


def _queries() -> list[list[Filter]]:
    sized = [[Filter("size", op, (v,))] for v in BOUNDS for op in OPS]
    edges = [64, 65, 128, 500, 512, 4096, 2**20, 2**62]
    ranged = [
        [Filter("size", low_op, (a,)), Filter("size", high_op, (b,))]
        for a, b in itertools.product([*edges, 0, 504], [*edges, 513, 2**20 + 1])
        for low_op, high_op in ((">=", "<"), (">", "<="))
    ]
    ranged.append([Filter("size", ">=", (600,)), Filter("size", ">", (100,))])
    return [*sized, *ranged, [Filter("size", "?", ())]]


def test_lists_filtered_by_size_count_exactly_at_every_band_edge(runtime: Runtime) -> None:
    tenant, other = make_tenant(runtime), make_tenant(runtime, name="Other clinic")
    second = _clinic(runtime, tenant, SIZES)
    _clinic(runtime, other, SIZES[::2])  # same sizes in another account: never counted
    _pending(runtime, tenant)
    _pending(runtime, other)
    assert _kept(runtime) == _banded(runtime)

    rows = _rows(runtime)
    archived_filters = [[], *([Filter("archived_at", op, ())] for op in ("?", "!?", "*"))]
    with runtime.sessions() as session:
        for filters, archived in itertools.product(_queries(), archived_filters):
            query = [*filters, *archived]
            expected = _brute(rows, tenant.account_id, None, query)
            kept = size_counts.total(session, tenant.account_id, None, query)
            assert kept == expected, query
            # one patient's list counts its rows (half the queries suffice for that)
            patients = (None, tenant.patient_id, second) if len(query) % 2 else (None,)
            for patient_id in patients:
                _, total = attachments_db.page(
                    session,
                    tenant.account_id,
                    patient_id=patient_id,
                    list_query=ListQuery(query, [], page=1, per_page=1),
                )
                assert total == _brute(rows, tenant.account_id, patient_id, query), (
                    patient_id,
                    query,
                )
    # a list the counts do not answer counts its rows
    with runtime.sessions() as session:
        for query in (
            [Filter("size", "=", (500,))],
            [Filter("size", "!?", ())],
            [Filter("size", ">=", (1,)), Filter("filename", "~", ("f",))],
        ):
            assert size_counts.total(session, tenant.account_id, None, query) is None


def test_the_bands_in_sql_are_the_bands_in_python(runtime: Runtime) -> None:
    values = sorted(
        set(range(-3, 300))
        | {2**e + d for e in range(6, 63) for d in (-1, 0, 1, 2 ** (e - 5) - 1)}
        | {BIG - 1, BIG}
    )
    with runtime.sessions() as session:
        for start in range(0, len(values), 200):
            chunk = values[start : start + 200]
            query = " UNION ALL ".join(
                f"SELECT {v} AS size, {size_counts.band_sql(str(v))} AS size_from" for v in chunk
            )
            for size, size_from in session.execute(text(query)):
                assert size_from == size_counts.band(size), size
    for v in values:
        low = size_counts.band(v)
        assert low <= v < size_counts.next_band(low)


def test_racing_completions_and_archivings_lose_no_count(runtime: Runtime) -> None:
    tenant = make_tenant(runtime)
    ids = [_insert(runtime, tenant, tenant.patient_id) for _ in range(40)]
    assert sorted(_claim(runtime) for _ in ids) == ids

    def run(step: tuple[str, int]) -> None:
        action, n = step
        if action == "complete":
            _complete(runtime, ids[n], 100 + n % 3)  # three bands, each written by many
        else:
            _archive(runtime, tenant, ids[n], back=action == "unarchive")

    steps = [("complete", n) for n in range(40)]
    steps += [("archive", n) for n in range(0, 40, 2)] + [("unarchive", n) for n in range(0, 40, 4)]
    steps.sort(key=lambda s: (s[1] * 7919) % 41)  # interleaved: archivings race completions
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(run, steps))
    assert _kept(runtime) == _banded(runtime)
    assert sum(live + archived for live, archived in _kept(runtime).values()) == 40


def test_the_migration_counts_existing_sizes(runtime: Runtime, database_url: str) -> None:
    tenant, other = make_tenant(runtime), make_tenant(runtime, name="Other clinic")
    _clinic(runtime, tenant, SIZES)
    _clinic(runtime, other, SIZES[1::3])
    _pending(runtime, tenant)
    kept = _kept(runtime)
    assert kept == _banded(runtime)
    runtime.engine.dispose()
    downgrade(database_url, "0009")
    upgrade(database_url)
    assert _kept(runtime) == kept


@pytest.mark.parametrize(
    ("value", "total"),
    [
        ("size:>=-5", 3),
        ("size:>=-9223372036854775807", 3),
        ("size:<=9223372036854775807", 3),
        ("size:>9223372036854775807", 0),
        ("size:<-9223372036854775807", 0),
        ("size:<=-9223372036854775807", 0),
        ("size:>=9223372036854775807", 1),
    ],
)
def test_a_size_at_the_ends_of_its_range_is_answered(
    api: Api, runtime: Runtime, tenant: Tenant, value: str, total: int
) -> None:
    for size in (0, 700, BIG):
        _insert(runtime, tenant, tenant.patient_id, size=size)
    _insert(runtime, tenant, tenant.patient_id)  # no size: no size filter selects it
    listed = api.client.get("/v1/patient_attachments", params={"q[]": value}, auth=tenant.auth)
    assert listed.status_code == 200, listed.text
    assert listed.json()["total_entries"] == total


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("size:>=abc", "is not a whole number"),
        ("size:>=1.5", "is not a whole number"),
        ("size:>=99999999999999999999", "is out of range"),
        ("size:<9223372036854775808", "is out of range"),
        ("size:>=-99999999999999999999", "is not a whole number"),
    ],
)
def test_a_hostile_size_is_refused_naming_it(
    api: Api, tenant: Tenant, value: str, message: str
) -> None:
    listed = api.client.get("/v1/patient_attachments", params={"q[]": value}, auth=tenant.auth)
    assert listed.status_code == 400, listed.text
    assert message in listed.text
