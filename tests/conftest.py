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


def pytest_addoption(parser):
    parser.addoption("--sim", default="both", choices=("verilator", "icarus", "both"),
                     help="HDL simulator(s) for the RTL tests (default: both)")
    parser.addoption("--seed", type=int, default=1,
                     help="seed of the tests that take the ``seed`` fixture (default 1; printed by each)")


@pytest.fixture
def seed(request) -> int:
    """The random tests' seed (--seed), printed so a failure names how to replay it."""
    s = request.config.getoption("seed")
    print(f"seed {s} (replay: pytest --seed {s} {request.node.nodeid})")
    return s


def pytest_generate_tests(metafunc):
    """Tests taking a ``sim`` argument run once per simulator chosen with --sim."""
    if "sim" in metafunc.fixturenames:
        choice = metafunc.config.getoption("sim")
        metafunc.parametrize("sim", ["verilator", "icarus"] if choice == "both" else [choice])
