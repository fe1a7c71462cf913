"""Hosts as Linux network namespaces on one bridge, and processes started in them.

Every name made here starts with PREFIX, so that `teardown()` (also run by .ci/cluster's trap
when the harness itself dies) removes exactly what a run made: its namespaces, the processes
inside them, its bridge. Needs root and Debian's iproute2.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "cf18"
BRIDGE = f"{PREFIX}br"
SUBNET = "10.118.0"
GATEWAY = f"{SUBNET}.1"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    answer = subprocess.run(args, check=False, capture_output=True, text=True)
    if check and answer.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {answer.returncode}: {answer.stderr}")
    return answer


@dataclass
class Host:
    name: str
    address: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def netns(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def veth(self) -> str:
        return f"{PREFIX}{self.name}"[:15]

    def exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Runs a command in the host and waits for it."""
        return run("ip", "netns", "exec", self.netns, *args, check=check)

    def spawn(
        self, label: str, args: list[str], log_dir: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Starts a long-running process in the host (`ip netns exec` execs it, so the pid
        is the process's own), its output in log_dir/<host>-<label>.log."""
        out = open(log_dir / f"{self.name}-{label}.log", "ab")  # noqa: SIM115 (the child owns it)
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        out.close()
        self.processes[label] = process
        log.info("%s: started %s (pid %s)", self.name, label, process.pid)
        return process

    def signal(self, label: str, signum: signal.Signals) -> None:
        process = self.processes[label]
        if process.poll() is None:
            os.kill(process.pid, signum)

    def stop(self, label: str, timeout: float = 10.0) -> None:
        process = self.processes[label]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def kill_all(self) -> None:
        """SIGKILL every process of the host (a machine that loses power)."""
        for pid in namespace_pids(self.netns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                log.warning("%s: pid %s outlived SIGKILL", self.name, process.pid)

    def link(self, up: bool) -> None:
        self.exec("ip", "link", "set", "eth0", "up" if up else "down")


def namespace_pids(netns: str) -> list[int]:
    answer = run("ip", "netns", "pids", netns, check=False)
    return [int(pid) for pid in answer.stdout.split()]


def make_network(names: dict[str, int]) -> dict[str, Host]:
    """The bridge (GATEWAY on this side, so the harness reaches every host) and one
    namespace per name, at SUBNET.<number>."""
    teardown()
    run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")
    hosts = {}
    for name, number in names.items():
        host = Host(name, f"{SUBNET}.{number}")
        run("ip", "netns", "add", host.netns)
        run(
            "ip",
            "link",
            "add",
            host.veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            host.netns,
        )
        run("ip", "link", "set", host.veth, "master", BRIDGE, "up")
        host.exec("ip", "addr", "add", f"{host.address}/24", "dev", "eth0")
        host.exec("ip", "link", "set", "eth0", "up")
        host.exec("ip", "link", "set", "lo", "up")
        host.exec("ip", "route", "add", "default", "via", GATEWAY)
        hosts[name] = host
    return hosts


def teardown() -> None:
    """Kills every process in this harness's namespaces, deletes them and the bridge."""
    listed = run("ip", "netns", "list", check=False).stdout.split("\n")
    spaces = [line.split()[0] for line in listed if line.startswith(f"{PREFIX}-")]
    for netns in spaces:
        for pid in namespace_pids(netns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(namespace_pids(n) for n in spaces) and time.monotonic() < deadline:
        time.sleep(0.1)
    for netns in spaces:
        run("ip", "netns", "delete", netns, check=False)
    run("ip", "link", "delete", BRIDGE, check=False)
