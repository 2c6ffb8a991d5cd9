"""Shared pytest fixtures and options."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """Where golden captures made by the tests are kept (build/golden/), for later inspection."""
    d = REPO_ROOT / "build" / "golden"
    d.mkdir(parents=True, exist_ok=True)
    return d
