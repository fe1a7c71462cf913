"""Client and AsyncClient are one client: _sync.py is what unasync makes of _async.py, and
the two classes offer the same methods with the same parameters."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from clinifile.client import AsyncClient, Client
from tests.client.generate_sync import PAIRS, sync_source

# the names an async API spells its own way (httpx does the same)
ASYNC_NAMES = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}
SYNC_DUNDERS = {"__init__", "__enter__", "__exit__"}


def _methods(cls: type) -> dict[str, Any]:
    """Public methods and the context-manager ones, by their sync names."""
    return {
        ASYNC_NAMES.get(name, name): member
        for name, member in vars(cls).items()
        if callable(member)
        and (not name.startswith("_") or name in SYNC_DUNDERS | set(ASYNC_NAMES))
    }


def _as_sync(annotation: Any) -> str:
    return str(annotation).replace("Async", "")


def _parameters(function: Any) -> list[tuple[str, Any, Any, str]]:
    return [
        (p.name, p.kind, p.default, _as_sync(p.annotation))
        for p in inspect.signature(function).parameters.values()
    ]


@pytest.mark.parametrize("source", sorted(PAIRS), ids=lambda path: path.name)
def test_the_generated_sync_client_is_fresh(source: Path) -> None:
    target = PAIRS[source]
    assert target.read_text(encoding="utf-8") == sync_source(source), (
        f"src/clinifile/client/{target.name} is stale: edit {source.name} only, then run "
        ".venv/bin/python -m tests.client.generate_sync"
    )


def test_client_and_async_client_have_the_same_methods_and_parameters() -> None:
    sync, asynchronous = _methods(Client), _methods(AsyncClient)
    assert sorted(sync) == sorted(asynchronous)
    assert {"patient", "patients", "update_description", "archive", "download"} <= set(sync)
    for name, method in sync.items():
        twin = asynchronous[name]
        assert _parameters(twin) == _parameters(method), name
        returns = inspect.signature(twin).return_annotation
        assert _as_sync(returns) == inspect.signature(method).return_annotation, name
        # everything is awaited but the lists, which are async iterators
        awaited = name != "__init__" and not str(returns).startswith("AsyncIterator")
        assert inspect.iscoroutinefunction(twin) == awaited, name
        assert not inspect.iscoroutinefunction(method), name
