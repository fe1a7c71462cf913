"""After the run: the client's view, the database and the store must agree; and every
API and worker process's /metrics, scraped during the run and after it."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import time
from collections import Counter
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from clinifile.runtime import build_runtime
from clinifile.worker.sweep import sweep
from tests.cluster.hosts import API_PORT, APIS, METRICS_PORT, WORKERS, Deployment

log = logging.getLogger(__name__)

# after a fault is mended, the seconds in which errors it caused may still be seen (a
# health check to pass, a pool to reconnect, a retry's backoff to run out)
GRACE_SECONDS = 3.0


def metrics_urls(d: Deployment) -> dict[str, str]:
    urls = {name: f"http://{d.address(name)}:{API_PORT}/metrics" for name in APIS}
    urls |= {name: f"http://{d.address(name)}:{METRICS_PORT}/metrics" for name in WORKERS}
    return urls


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(url, timeout=10)
    answer.raise_for_status()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def total(
    figures: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return sum(
        v
        for (n, ls), v in figures.items()
        if n == name and all(dict(ls).get(k) == x for k, x in labels.items())
    )


def scrape_during(d: Deployment, load: subprocess.Popen[bytes], out: list[dict[str, Any]]) -> None:
    """Every 5 s while the load runs: each process's /metrics (a process down for a fault
    is noted, not failed: the check counts the scrapes that answered)."""
    while load.poll() is None:
        for name, url in metrics_urls(d).items():
            note: dict[str, Any] = {"host": name, "at": time.time()}
            try:
                figures = scrape(url)
                note["database_up"] = total(figures, "clinifile_database_up")
                note["requests"] = total(figures, "clinifile_http_requests_total")
                note["attachments"] = total(figures, "clinifile_attachments")
                note["steps"] = total(figures, "clinifile_processing_step_duration_seconds_count")
            except (httpx.HTTPError, ValueError) as error:
                note["error"] = type(error).__name__
            out.append(note)
        time.sleep(5)


def quiet_during(out: dict[str, Any], window: dict[str, Any] | None) -> dict[str, Any]:
    """No 5xx or connection error seen by the client within window (a rolling deploy)."""
    if window is None:
        return {"ok": False, "why": "the load ended before the rolling deploy"}
    errors = [
        s
        for s in out["seen"]
        if (s.get("error") or s.get("status", 0) >= 500)
        and window["start"] <= s["at"] <= window["end"]
    ]
    return {"ok": not errors, "errors": errors[:10], "seconds": window["seconds"]}


def _in_fault(at: float, windows: list[dict[str, Any]]) -> bool:
    return any(w["start"] - 1 <= at <= w["end"] + GRACE_SECONDS for w in windows)


def verify(
    d: Deployment,
    out: dict[str, Any],
    windows: list[dict[str, Any]],
    scrapes: list[dict[str, Any]],
    figures: dict[str, Any],
) -> dict[str, dict[str, Any]]:
    """The checks, each {"ok": bool, ...}; adds the run's figures to figures."""
    results, seen = out["results"], out["seen"]
    report: dict[str, dict[str, Any]] = {}
    failed_uploads = [r for r in results if "id" not in r]
    report["every upload registered"] = {
        "ok": not failed_uploads,
        "registered": len(results) - len(failed_uploads),
        "failed": [r.get("error") for r in failed_uploads][:10],
    }
    errors = [s for s in seen if s.get("error") or s.get("status", 0) >= 500]
    outside = [s for s in errors if not _in_fault(s["at"], windows)]
    report["no 5xx outside a fault"] = {
        "ok": not outside,
        "errors_seen": len(errors),
        "outside_faults": outside[:10],
        "by_kind": dict(
            Counter(f"{s['kind']} {s.get('status') or s.get('error')}" for s in errors)
        ),
    }
    engine = create_engine(d.database_url)
    ids = [r["id"] for r in results if "id" in r]
    deadline = time.monotonic() + 180
    while True:
        with engine.connect() as conn:
            waiting = conn.execute(
                text("SELECT count(*) FROM attachments WHERE state IN ('pending', 'processing')")
            ).scalar_one()
        if waiting == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    report["drained"] = {"ok": waiting == 0, "waiting": waiting}
    with engine.connect() as conn:
        rows = {
            row.id: row
            for row in conn.execute(
                text(
                    "SELECT id, account_id, state, size, checksum_sha256, attempts, permanent_key, "
                    "created_at, processed_at FROM attachments"
                )
            )
        }
        accounts = {
            row.id: row.storage_used_bytes
            for row in conn.execute(text("SELECT id, storage_used_bytes FROM accounts"))
        }
    by_client = {r["id"]: r for r in results if "id" in r}
    latencies = sorted(
        (r.processed_at - r.created_at).total_seconds()
        for r in rows.values()
        if r.processed_at is not None
    )
    if latencies:
        figures["registration_to_completed_p50_seconds"] = round(latencies[len(latencies) // 2], 2)
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        figures["registration_to_completed_p95_seconds"] = round(p95, 2)
    figures["client_errors_by_fault"] = {
        w["name"]: sum(1 for e in errors if w["start"] - 1 <= e["at"] <= w["end"] + GRACE_SECONDS)
        for w in windows
    }
    wrong = [
        i
        for i in ids
        if i not in rows
        or rows[i].state != "completed"
        or rows[i].checksum_sha256 != by_client[i]["sha256"]
        or rows[i].size != by_client[i]["size"]
    ]
    report["completed exactly once, as sent"] = {
        "ok": not wrong and len(rows) == len(ids) and len(set(ids)) == len(ids),
        "attachments_in_db": len(rows),
        "registered": len(ids),
        "wrong": wrong[:10],
        "attempts": dict(Counter(row.attempts for row in rows.values())),
    }
    counted = {
        account: sum(
            r.size or 0 for r in rows.values() if r.account_id == account and r.state == "completed"
        )
        for account in accounts
    }
    report["counted bytes = sum of files"] = {
        "ok": all(accounts[a] == counted[a] for a in accounts),
        "accounts": {str(a): [accounts[a], counted[a]] for a in accounts},
    }
    settings = d.settings()
    runtime = build_runtime(settings)
    try:
        bad_objects = []
        for i in ids:
            data = _read_all(runtime, rows[i].permanent_key)
            if hashlib.sha256(data).hexdigest() != rows[i].checksum_sha256:
                bad_objects.append(i)
        report["permanent objects match their SHA-256"] = {
            "ok": not bad_objects,
            "bad": bad_objects[:10],
        }
        swept = sweep(runtime, min_age_seconds=0)
        client = runtime.store("au1")._client  # type: ignore[attr-defined]
        bucket = settings.region("au1").bucket
        temp = [
            obj["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for obj in page.get("Contents", [])
            if "/attachments/temp/" in obj["Key"]
        ]
        parts = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        report["no temp object or multipart part after the sweep"] = {
            "ok": not temp and not parts,
            "swept": swept,
            "temp_left": temp[:10],
            "multipart_uploads_left": len(parts),
        }
    finally:
        runtime.close()
    report["metrics"] = _check_metrics(d, scrapes, rows)
    return report


def _read_all(runtime: Any, key: str) -> bytes:
    client = runtime.store("au1")._client
    bucket = runtime.settings.region("au1").bucket
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]


def _check_metrics(
    d: Deployment, scrapes: list[dict[str, Any]], rows: dict[int, Any]
) -> dict[str, Any]:
    answered = Counter(s["host"] for s in scrapes if "error" not in s)
    completed = sum(1 for r in rows.values() if r.state == "completed")
    after = {}
    for name, url in metrics_urls(d).items():
        figures = scrape(url)
        after[name] = {
            "completed": total(figures, "clinifile_attachments", state="completed"),
            "pending": total(figures, "clinifile_attachments", state="pending"),
            "stored_bytes": total(figures, "clinifile_stored_bytes"),
            "requests": total(figures, "clinifile_http_requests_total"),
            "steps": total(figures, "clinifile_processing_step_duration_seconds_count"),
        }
    stored = sum(r.size or 0 for r in rows.values() if r.state == "completed")
    ok = (
        all(answered[name] >= 1 for name in metrics_urls(d))
        and all(a["completed"] == completed and a["stored_bytes"] == stored for a in after.values())
        # each process counted its own work while the uploads flowed (restarts reset these)
        and all(any(s.get("requests", 0) > 0 for s in scrapes if s["host"] == n) for n in APIS)
        and all(any(s.get("steps", 0) > 0 for s in scrapes if s["host"] == n) for n in WORKERS)
    )
    return {
        "ok": ok,
        "scrapes_answered_during_run": dict(answered),
        "after": after,
        "db_completed": completed,
        "db_stored_bytes": stored,
    }
