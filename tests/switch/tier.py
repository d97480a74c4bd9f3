"""What the real-switch tiers (tests/switch/freeswitch, tests/switch/asterisk) share in
their conftest hooks: a missing switch skips the tier with its install hint, or fails it
under CALLFLOW_REQUIRE_SWITCHES=1; a failed test's report carries the log tails."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


def skip_or_require(items, here: Path, binary, install_hint: str, required_fixture: str) -> None:
    """For the tests under ``here``: nothing when ``binary()`` finds the switch; else a
    failure through ``required_fixture`` when switches are required, else a skip."""
    if binary() is not None:
        return
    mine = [i for i in items if Path(str(i.fspath)).is_relative_to(here)]
    if os.environ.get("CALLFLOW_REQUIRE_SWITCHES") == "1":
        for item in mine:
            item.add_marker(pytest.mark.usefixtures(required_fixture))
        return
    for item in mine:
        item.add_marker(pytest.mark.skip(reason=install_hint))


def attach_logs(item, report, lab_fixture: str, switch_name: str, switch_log) -> None:
    """On a failed test that used the lab, add the switch's and the engine's log tails."""
    lab = item.funcargs.get(lab_fixture) if hasattr(item, "funcargs") else None
    if report.failed and lab is not None:
        report.sections.append((f"{switch_name} log (tail)", switch_log(lab)))
        report.sections.append(("engine log (tail)", lab.engine.log_text()[-8000:]))
        report.sections.append(("run folders", str(lab.root)))
