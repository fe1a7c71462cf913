"""`clinifile --help` reads as prose: a docstring's hard line breaks are not the help's."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from clinifile.cli.main import app

WIDE = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    # typer carries its own click: a group is whatever has subcommands
    if hasattr(group, "commands"):
        for name, command in group.commands.items():
            found += _commands(command, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def _first_paragraph(command: Any) -> str:
    text = (command.help or "").strip().split("\n\n")[0]
    return " ".join(text.replace("`", "").split())


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "clinifile" for p in COMMANDS])
def test_help_shows_each_paragraph_on_one_line(path: tuple[str, ...]) -> None:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    result = CliRunner().invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.strip(" │").split()) for line in result.output.splitlines()]
    paragraph = _first_paragraph(command)
    assert paragraph, f"clinifile {' '.join(path)} has no help text"
    assert any(paragraph in line for line in lines), result.output


def test_help_keeps_square_brackets_of_the_option_text() -> None:
    """Rich markup would swallow `[env: ...]` as a tag."""
    result = CliRunner().invoke(app, ["migrate", "--help"], env=WIDE)
    assert "[env: CLINIFILE_DATA_DIR; default: ./clinifile-data]" in result.output
