"""The exception trees drawn in clinifile/errors.py list every exception class of the
package, each under its real base class: the server's tree first, then the Python client's
own (clinifile.client.errors), which reuses some names."""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re

import pytest

import clinifile
from clinifile import errors

CLIENT_MARK = "clinifile.client.errors"
# an indented drawing line: tree glyphs, then a class name
DRAWN = re.compile(r"^ {4}((?:[│ ]   |├── |└── )*)([A-Za-z_]\w*)(?:\s|$)")


def _exception_classes(*, client: bool) -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(clinifile.__path__, "clinifile."):
        name = module_info.name
        if ".migrations" in name or name.endswith("__main__"):
            continue
        if name.startswith("clinifile.client") != client:
            continue
        module = importlib.import_module(name)
        for class_name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[class_name] = value
    return found


def _drawing(*, client: bool) -> list[tuple[int, str]]:
    """(depth, class name) of each drawn line of one tree, in order."""
    server_part, _, client_part = (errors.__doc__ or "").partition(CLIENT_MARK)
    lines = (client_part if client else server_part).splitlines()
    return [(len(m.group(1)), m.group(2)) for line in lines if (m := DRAWN.match(line))]


def _resolve(name: str, classes: dict[str, type[BaseException]]) -> type[BaseException] | None:
    builtin = getattr(builtins, name, None)
    if inspect.isclass(builtin) and issubclass(builtin, BaseException):
        return builtin
    return classes.get(name)


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_every_exception_class_is_drawn(client: bool) -> None:
    drawn = {name for _, name in _drawing(client=client)}
    missing = sorted(set(_exception_classes(client=client)) - drawn)
    assert missing == [], f"draw these in the tree of clinifile/errors.py: {missing}"


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_each_drawn_class_exists_under_its_drawn_base(client: bool) -> None:
    classes = _exception_classes(client=client)
    stack: list[tuple[int, type[BaseException]]] = []
    for depth, name in _drawing(client=client):
        cls = _resolve(name, classes)
        assert cls is not None, f"{name} is drawn but is no exception class"
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            assert issubclass(cls, stack[-1][1]), f"{name} is drawn under {stack[-1][1].__name__}"
        stack.append((depth, cls))
