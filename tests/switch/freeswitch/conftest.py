"""Fixtures of the real-FreeSWITCH tier: one ``Lab`` (lab.py) per test session.

Without a FreeSWITCH binary the tier skips with the install hint; with
CALLFLOW_REQUIRE_SWITCHES=1 that is a failure. A failed test gets the tails of the
FreeSWITCH and engine logs in its report; the run folders stay on disk under pytest's
basetemp.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.switch.freeswitch import instance
from tests.switch.freeswitch.lab import Lab
from tests.switch.tier import attach_logs, skip_or_require


def pytest_collection_modifyitems(config, items):
    skip_or_require(items, Path(__file__).parent, instance.binary, instance.INSTALL_HINT,
                    "_switch_required")


@pytest.fixture(scope="session")
def _switch_required():
    pytest.fail("CALLFLOW_REQUIRE_SWITCHES=1 but " + instance.INSTALL_HINT, pytrace=False)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("fs-tier"))
    yield lab
    lab.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    attach_logs(item, outcome.get_result(), "lab", "FreeSWITCH", lambda lab: lab.fs.log_tail(8000))
