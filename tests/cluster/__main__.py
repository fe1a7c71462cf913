"""The multi-host run: deploy every host in its own network namespace, drive uploads from
the client host while faults are injected, then check the database and the store.

    python -m tests.cluster [--uploads 1000] [--threads 4] [--scale-batch 400] [--root DIR]

--uploads is a least: the client goes on until every fault and the rolling deploy are over.

Before the faults (tests/cluster/phases.py): uploads/s with 1, 2 and 3 worker hosts, and an
API host drained by HAProxy while a request is in flight through it; after each fault, the
time until the system is whole again.

Needs root (network namespaces). Exit 0 when every check holds; the report is printed and
written to ROOT/report.json. Everything it started is torn down, also on failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from clinifile.runtime import build_runtime
from clinifile.services import accounts as accounts_service
from tests.cluster import checks, faults, netns, phases
from tests.cluster.faults import FAULTS
from tests.cluster.hosts import APIS, WORKERS, Deployment, deploy

log = logging.getLogger("cluster")
ROOT = Path(__file__).resolve().parents[2]


def make_tenants(deployment: Deployment, accounts: int, patients: int) -> list[dict[str, Any]]:
    """Accounts, patients and keys, made as `clinifile accounts create`, `patients create`
    and `keys create` make them (in one process: each command costs seconds to start here)."""
    runtime = build_runtime(deployment.settings())
    tenants = []
    try:
        for a in range(accounts):
            account = accounts_service.create_account(
                runtime, name=f"Clinic {a}", region="au1", plan="paid", storage_limit_bytes=None
            )
            ids = [
                accounts_service.create_patient(
                    runtime, account_id=account, first_name="Pat", last_name=f"Ient{p}"
                )
                for p in range(patients)
            ]
            key = accounts_service.create_api_key(runtime, account)
            tenants.append({"account": account, "patients": ids, "key": key})
    finally:
        runtime.close()
    return tenants


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.root or tempfile.mkdtemp(prefix="clinifile-cluster-"))
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # the postgres user reaches its data directory inside
    venv = Path(sys.executable).parent
    report: dict[str, Any] = {"root": str(root), "uploads": args.uploads}
    started = time.monotonic()
    deployment = deploy(root, str(venv / "weed"), str(venv / "clinifile"))
    report["deploy_seconds"] = round(time.monotonic() - started, 1)
    tenants = make_tenants(deployment, accounts=3, patients=3)
    harness = phases.Uploads()  # the scaling batches' and the probes' uploads
    phase_started = time.monotonic()
    scaling = phases.worker_scaling(deployment, tenants, args.scale_batch, harness)
    report["scaling_seconds"] = round(time.monotonic() - phase_started, 1)
    drain = phases.drained_host_finishes(deployment, tenants[0])
    config = {
        "base_url": deployment.base_url,
        "uploads": args.uploads,
        "threads": args.threads,
        "tenants": tenants,
        "seed": 18,
        # the client goes on past --uploads until every fault and the deploy are over
        "stop_file": str(root / "load.stop"),
    }
    (root / "load.json").write_text(json.dumps(config))
    load = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            deployment.hosts["client"].netns,
            sys.executable,
            "-m",
            "tests.cluster.load",
            str(root / "load.json"),
            str(root / "load-out.json"),
        ],
        cwd=ROOT,
        stdout=(root / "logs" / "client-load.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    load_started = time.time()
    scrapes: list[dict[str, Any]] = []
    scraper = threading.Thread(target=checks.scrape_during, args=(deployment, load, scrapes))
    scraper.start()
    windows = []
    prober = phases.Prober(deployment, tenants[1], harness)
    try:
        for fault in FAULTS:
            if load.poll() is not None:
                log.warning("the load ended before fault %s", fault.name)
                break
            windows.append(fault.inject(deployment, prober))
    finally:
        prober.close()
    rolling = faults.rolling_deploy(deployment) if load.poll() is None else None
    (root / "load.stop").touch()
    # a deploy's last worker host may come back after the client's last upload: the queue
    # it leaves still flows through the workers, and the checks below count every job
    load_running_after_deploy = load.poll() is None
    if load.wait(timeout=args.load_timeout) != 0:
        raise RuntimeError(f"the client's load program failed; see {root}/logs/client-load.log")
    load_seconds = time.time() - load_started
    scraper.join()
    out = json.loads((root / "load-out.json").read_text())
    report["load_seconds"] = round(load_seconds, 1)
    report["uploads"] = len(out["results"])
    registered = sum(1 for r in out["results"] if "id" in r)
    figures: dict[str, Any] = {
        "uploads_per_second_through_the_lb": round(registered / load_seconds, 1),
        "note": "2 shared cores run every host, the client and the faults: compare runs "
        "made side by side, not with other machines",
    }
    figures["worker_hosts"] = scaling
    figures["seconds_until_whole"] = {w["name"]: w.get("seconds_until_whole") for w in windows}
    report["faults"] = windows
    report["harness_uploads"] = len(harness.results)
    # the end checks cover the scaling batches and the probes as they cover the load
    everything = {"results": out["results"] + harness.results, "seen": out["seen"] + harness.seen}
    report["checks"] = {
        "every fault and the deploy began while uploads flowed": {
            "ok": len(windows) == len(FAULTS) and rolling is not None,
            "injected": len(windows),
            "of": len(FAULTS),
            "uploads_still_flowing_after_the_deploy": load_running_after_deploy,
        },
        **checks.verify(deployment, everything, windows, scrapes, figures),
        "no client error during the rolling deploy": checks.quiet_during(out, rolling),
        "whole again after every fault": {
            "ok": len(windows) == len(FAULTS)
            and all(w.get("seconds_until_whole") is not None for w in windows),
            "seconds_until_whole": figures["seconds_until_whole"],
            "definition": "from the fault's injection until /readyz through the load balancer "
            "answers 200, both API servers are UP in HAProxy, three volume servers have joined "
            "and every worker host's /metrics answers, and then an upload sent after that "
            "through the load balancer is registered and its processing completed",
        },
        "a drained API host finishes its request and gets no new one": drain,
    }
    if rolling is not None:
        windows.append(rolling)
    report["figures"] = figures
    for window in windows:
        window["start"] = round(window["start"] - load_started, 1)
        window["end"] = round(window["end"] - load_started, 1)
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--scale-batch", type=int, default=400)
    parser.add_argument("--root", default=None)
    parser.add_argument("--load-timeout", type=float, default=600)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        report = run(args)
    finally:
        netns.teardown()
    print(json.dumps(report, indent=2))
    Path(report["root"], "report.json").write_text(json.dumps(report, indent=2))
    failed = [name for name, check in report["checks"].items() if not check["ok"]]
    if failed:
        print(f"FAILED: {', '.join(failed)}; logs in {report['root']}/logs", file=sys.stderr)
        return 1
    # the stores' and databases' files (a GiB or so) and the files with the run's keys go;
    # the logs and the report stay
    for path in Path(report["root"]).iterdir():
        if path.is_dir() and path.name != "logs":
            shutil.rmtree(path)
        elif path.name in ("s3-identities.json", "load.json", "haproxy.sock", "load.stop"):
            path.unlink()
    print("every check holds", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["APIS", "WORKERS"]
