"""Fixtures of the real-Asterisk tier: one ``Lab`` (lab.py) per test session.

Without an Asterisk binary the tier skips with the install hint; with
CALLFLOW_REQUIRE_SWITCHES=1 that is a failure. A failed test gets the tails of the
Asterisk and engine logs in its report; the run folders stay on disk under pytest's
basetemp.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.switch.asterisk import instance
from tests.switch.asterisk.lab import Lab


def pytest_collection_modifyitems(config, items):
    """No switch: skip the tier with the install hint, or fail when switches are required."""
    if instance.binary() is not None:
        return
    here = Path(__file__).parent
    mine = [i for i in items if Path(str(i.fspath)).is_relative_to(here)]
    if os.environ.get("CALLFLOW_REQUIRE_SWITCHES") == "1":
        for item in mine:
            item.add_marker(pytest.mark.usefixtures("_asterisk_required"))
        return
    for item in mine:
        item.add_marker(pytest.mark.skip(reason=instance.INSTALL_HINT))


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
    report = outcome.get_result()
    lab = item.funcargs.get("ast_lab") if hasattr(item, "funcargs") else None
    if report.failed and lab is not None:
        report.sections.append(("Asterisk log (tail)", lab.ast.log_tail(8000)))
        report.sections.append(("engine log (tail)", lab.engine.log_text()[-8000:]))
        report.sections.append(("run folders", str(lab.root)))
