"""Fixtures of the real-Asterisk tier: one ``Lab`` (lab.py) per test session.

Without an Asterisk binary the tier skips with the install hint; with
CALLFLOW_REQUIRE_SWITCHES=1 that is a failure. A failed test gets the tails of the
Asterisk and engine logs in its report; the run folders stay on disk under pytest's
basetemp.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.switch.asterisk import instance
from tests.switch.asterisk.lab import Lab
from tests.switch.tier import attach_logs, skip_or_require


def pytest_collection_modifyitems(config, items):
    skip_or_require(items, Path(__file__).parent, instance.binary, instance.INSTALL_HINT,
                    "_asterisk_required")


@pytest.fixture(scope="session")
def _asterisk_required():
    pytest.fail("CALLFLOW_REQUIRE_SWITCHES=1 but " + instance.INSTALL_HINT, pytrace=False)


@pytest.fixture(scope="session")
def ast_lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("ast-tier"))
    yield lab
    lab.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    attach_logs(item, outcome.get_result(), "ast_lab", "Asterisk", lambda lab: lab.ast.log_tail(8000))
