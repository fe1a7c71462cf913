"""The layers of the package, as the README draws them, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import clinifile

PACKAGE = Path(clinifile.__file__).parent
LOWER_LAYERS = ("domain", "db", "storage", "services", "worker")
UPPER_LAYERS = ("clinifile.api", "clinifile.cli")
MAX_MODULE_LINES = 400


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def _imported_modules(path: Path) -> list[str]:
    """Every module path imports, at module level or inside a function."""
    package = ".".join(("clinifile", *path.relative_to(PACKAGE).parent.parts))
    return _imports_in(path.read_text(encoding="utf-8"), package)


def _imports_in(source: str, package: str) -> list[str]:
    """`from clinifile import api` counts as clinifile.api; relative imports are resolved
    against package."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("layer", LOWER_LAYERS)
def test_lower_layers_import_nothing_from_the_api_or_the_cli(layer: str) -> None:
    offending = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in _modules(layer)
        for name in _imported_modules(path)
        if name.startswith(UPPER_LAYERS)
    ]
    assert offending == []


def test_runtime_imports_nothing_from_the_api_or_the_cli() -> None:
    names = _imported_modules(PACKAGE / "runtime.py")
    assert [n for n in names if n.startswith(UPPER_LAYERS)] == []


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_import_scan_finds_imports_inside_functions() -> None:
    """The scan itself: serve imports the runtime inside its command function."""
    assert "clinifile.runtime" in _imported_modules(PACKAGE / "cli" / "serve.py")


def test_import_scan_resolves_package_and_relative_imports() -> None:
    names = _imports_in("from clinifile import api\nfrom ..cli import main\n", "clinifile.worker")
    assert "clinifile.api" in names
    assert "clinifile.cli.main" in names
