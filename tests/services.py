"""What the tests do when a real service they need is missing."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing_service(what: str) -> NoReturn:
    """Skip on a user's machine without the service; under CI=true that is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI must provide it: .ci/run installs or starts it)")
    pytest.skip(what)
