"""`clinifile` at a terminal, run as a user runs it (a process): one line for every error with
the exit code the README documents, downloads that never overwrite by surprise, empty files
refused before anything is sent, audit filters in the table's words, and `ls` that fits the
terminal and marks archived files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clinifile.cli.audit import ACTIONS
from clinifile.client import Client
from clinifile.services.audit import Action
from tests import samples
from tests.factories import Tenant, wait_for
from tests.live_server import LiveServer
from tests.objects import list_keys


def _env(key: str, base: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIFILE_")}
    env.update(CLINIFILE_API_KEY=key, CLINIFILE_BASE_URL=base, **extra)
    return env


def _start(
    *args: str, key: str, base: str, cwd: Path | None = None, **extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "clinifile.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(key, base, **extra),
        cwd=cwd,
    )


def _run(
    *args: str, key: str, base: str, cwd: Path | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    process = _start(*args, key=key, base=base, cwd=cwd, **extra)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


# --- the server cannot be reached -----------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "why"),
    [
        ("http://127.0.0.1:9", "(the connection was refused)"),
        ("http://no-such-host.invalid:8000", "(its host name is not known)"),
    ],
    ids=["refused", "unknown-host"],
)
def test_every_command_says_in_one_line_that_the_server_cannot_be_reached(
    base: str, why: str, tmp_path: Path
) -> None:
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(samples.pdf())
    commands = {
        "upload": ["upload", "--patient", "1", str(letter)],
        "download": ["download", "12", "-o", str(tmp_path)],
        "ls": ["ls"],
        "audit": ["audit", "--action", "download"],
    }
    running = {name: _start(*args, key="k" * 64, base=base) for name, args in commands.items()}
    for name, process in running.items():
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 4, f"{name}: {stderr}"
        assert _one_line(stderr) == (
            f"error: cannot reach {base} {why}; check the base URL and that the server is "
            "running there"
        ), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["letter.pdf"]


# --- download -o ------------------------------------------------------------------------------


def _uploaded(server: LiveServer, tenant: Tenant, tmp_path: Path, name: str, content: bytes) -> str:
    source = tmp_path / "source" / name
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(content)
    with Client(tenant.key, server.url) as client:
        return str(client.upload(tenant.patient_id, source, wait=True)["id"])


def test_download_into_a_folder_writes_the_file_under_its_own_name_and_never_overwrites(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    content = samples.pdf("the referral")
    attachment_id = _uploaded(server, tenant, tmp_path, "Überweisung (1).pdf", content)
    folder = tmp_path / "downloads"
    folder.mkdir()
    target = folder / "Überweisung (1).pdf"

    first = _run("download", attachment_id, "-o", str(folder), key=tenant.key, base=server.url)
    assert first.returncode == 0, first.stderr
    assert target.read_bytes() == content
    assert _one_line(first.stderr) == f"wrote {len(content)} bytes to {target}"

    target.write_bytes(b"my own notes")
    again = _run("download", attachment_id, "-o", str(folder), key=tenant.key, base=server.url)
    assert again.returncode == 2
    assert _one_line(again.stderr) == (
        f"error: {target} exists; pass --force to overwrite it, or -o another name"
    )
    assert target.read_bytes() == b"my own notes"

    forced = _run(
        "download", attachment_id, "-o", str(folder), "--force", key=tenant.key, base=server.url
    )
    assert forced.returncode == 0, forced.stderr
    assert target.read_bytes() == content
    assert sorted(p.name for p in folder.iterdir()) == ["Überweisung (1).pdf"]  # no .part left

    # with no -o: the current folder, under its own name, and the same refusal
    here = _run("download", attachment_id, key=tenant.key, base=server.url, cwd=folder)
    assert here.returncode == 2 and "--force" in _one_line(here.stderr)
    nowhere = tmp_path / "no" / "such" / "folder" / "x.pdf"
    missing = _run("download", attachment_id, "-o", str(nowhere), key=tenant.key, base=server.url)
    assert missing.returncode == 2
    assert _one_line(missing.stderr) == f"error: no such folder: {nowhere.parent}"


def test_download_of_an_unknown_id_is_one_line(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    result = _run("download", "999999", "-o", str(folder), key=tenant.key, base=server.url)
    assert result.returncode == 1
    assert _one_line(result.stderr).startswith("error: Not found")
    assert list(folder.iterdir()) == []


# --- empty files ------------------------------------------------------------------------------


def test_an_empty_file_is_refused_in_words_before_anything_is_sent(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "blank.pdf").write_bytes(b"")
    (folder / "letter.pdf").write_bytes(samples.pdf())
    result = _run(
        "upload", "--patient", str(tenant.patient_id), str(folder), "--json",
        key=tenant.key, base=server.url,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    by_name = {Path(r["file"]).name: r for r in json.loads(result.stdout)}
    assert by_name["letter.pdf"]["ok"] is True
    assert by_name["blank.pdf"] == {
        "file": str(folder / "blank.pdf"),
        "ok": False,
        "error": "blank.pdf is empty (0 bytes): there is nothing to upload",
    }
    assert "EntityTooSmall" not in result.stdout + result.stderr
    stored = [o.key for o in list_keys(server.runtime.store("au1"), f"{tenant.account_id}/")]
    assert [k for k in stored if k.endswith("blank.pdf")] == []
    table = _run(
        "upload", "--patient", str(tenant.patient_id), str(folder / "blank.pdf"),
        key=tenant.key, base=server.url,
    )  # fmt: skip
    assert table.returncode == 1
    assert (
        f"not uploaded: {folder / 'blank.pdf'}: blank.pdf is empty (0 bytes): there is nothing "
        "to upload"
    ) in table.stderr.splitlines()


# --- audit --action -----------------------------------------------------------------------------


def test_audit_action_takes_the_words_its_table_shows(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    attachment_id = _uploaded(server, tenant, tmp_path, "a.pdf", samples.pdf())
    with Client(tenant.key, server.url) as client:
        client.download(attachment_id, tmp_path / "copy.pdf")
    table = _run("audit", key=tenant.key, base=server.url, COLUMNS="200")
    assert table.returncode == 0, table.stderr
    cells = [line.split("│") for line in table.stdout.splitlines() if line.startswith("│")]
    shown = {row[3].strip() for row in cells}  # the action column
    assert shown == {"create", "download"}
    for word in ("download", "Download", "patient_attachment.download"):
        found = _run("audit", "--action", word, "--json", key=tenant.key, base=server.url)
        assert found.returncode == 0, found.stderr
        assert [e["action"] for e in json.loads(found.stdout)] == ["patient_attachment.download"]
    wrong = _run("audit", "--action", "downloaded", key=tenant.key, base=server.url)
    assert wrong.returncode == 2
    assert _one_line(wrong.stderr) == (
        "error: --action 'downloaded' is not an action; use one of: " + ", ".join(ACTIONS)
    )


def test_the_audit_words_are_the_servers_actions() -> None:
    assert {f"patient_attachment.{word}" for word in ACTIONS} == {a.value for a in Action}


# --- ls -----------------------------------------------------------------------------------------

LONG_NAME = "Überweisung an Dr. Müller wegen Kniebeschwerden, Befund vom 25.11.2026 " * 2 + ".pdf"


def test_ls_fits_the_terminal_and_marks_archived_files(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    kept = _uploaded(server, tenant, tmp_path, LONG_NAME.replace(" ", "_"), samples.pdf())
    gone = _uploaded(server, tenant, tmp_path, "x-ray.png", samples.png())
    with Client(tenant.key, server.url) as client:
        client.archive(gone)
        wait_for(lambda: len(list(client.attachments(archived_at="?"))) == 1)
    for columns in (60, 80, 120, 200):
        listed = _run("ls", "--archived", key=tenant.key, base=server.url, COLUMNS=str(columns))
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert max(len(line) for line in lines) <= columns, listed.stdout
        rows = {line.split()[0]: line for line in lines if line.split()[:1] in ([kept], [gone])}
        assert set(rows) == {kept, gone}, listed.stdout  # each id whole
        assert "archived" in rows[gone] and "archived" not in rows[kept]
        assert "processed" in rows[kept]
        if columns >= 120:
            assert "image/png" in rows[gone] and "created" in listed.stdout
    active = _run("ls", key=tenant.key, base=server.url, COLUMNS="80")
    assert gone not in active.stdout.split() and kept in active.stdout.split()
