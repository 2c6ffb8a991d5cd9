"""Shared pytest fixtures and options."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """Where golden captures made by the tests are kept (build/golden/), for later inspection."""
    d = REPO_ROOT / "build" / "golden"
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def shared_tmp(tmp_path_factory) -> Path:
    """A folder of this session that every pytest-xdist worker shares (each worker's own base folder is
    inside it); the base folder itself when pytest runs serially."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def two_runs(shared_tmp):
    """tests/regress_helpers.py: a store with a passing and a failing run of the tiny network, made once
    for the whole session whichever worker asks first."""
    from tests import regress_helpers

    return regress_helpers.two_runs(shared_tmp / "regress-two-runs")


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


def pytest_collection_modifyitems(config, items):
    """The tests marked ``slow(minutes=N)`` first, the longest first, then the rest in their order: the
    pytest-xdist workers of `nox -s rtl_tests` (``--dist load --maxschedchunk 1``: a worker that is free
    takes the next test) start the long runs early and end on short tests, on both cores at once."""
    def minutes(item):
        mark = item.get_closest_marker("slow")
        return 0 if mark is None else mark.kwargs.get("minutes", 1)

    if os.environ.get("PYTEST_XDIST_WORKER"):  # serially (-n 0) they run in their files' order
        items.sort(key=minutes, reverse=True)  # stable: equal keys keep their order


def pytest_generate_tests(metafunc):
    """Tests taking a ``sim`` argument run once per simulator chosen with --sim."""
    if "sim" in metafunc.fixturenames:
        choice = metafunc.config.getoption("sim")
        metafunc.parametrize("sim", ["verilator", "icarus"] if choice == "both" else [choice])
