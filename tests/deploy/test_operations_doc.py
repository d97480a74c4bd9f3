"""README.md stays in step with the code: every engine setting with its current
default, every metric, and the validation note."""
from __future__ import annotations

import re

from engine.settings import Settings
from tests.deploy.conftest import REPO
from tests.deploy.settings_table import BEGIN, END, default_text, env_name

DOC = REPO / "README.md"
HINT = ("regenerate the table with `.venv/bin/python -m tests.deploy.settings_table` and paste "
        "it between the markers in README.md")


def settings_block() -> str:
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"settings table markers missing; {HINT}"
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)]


def table_rows() -> dict[str, list[str]]:
    rows = {}
    for line in settings_block().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith("`CALLFLOW_"):
            rows[cells[0].strip("`")] = cells
    return rows


def test_every_setting_is_documented_with_its_default():
    rows = table_rows()
    for field in Settings.model_fields:
        name = env_name(field)
        assert name in rows, f"{name} is missing from README.md; {HINT}"
        assert rows[name][2] == default_text(field), f"{name}: stale default; {HINT}"


def test_no_stale_setting_in_the_table():
    known = {env_name(f) for f in Settings.model_fields}
    stale = set(table_rows()) - known
    assert not stale, f"README.md lists settings that no longer exist: {stale}; {HINT}"


def test_every_metric_is_documented():
    from engine import metrics

    text = DOC.read_text()
    names = {family.name for family in metrics.REGISTRY.collect()}
    assert names
    for name in names:
        suffix = "_total" if f"{name}_total" in text else ""
        assert f"`{name}{suffix}`" in text, f"metric {name} is not in README.md"


def test_guide_covers_the_operator_topics():
    text = DOC.read_text()
    for heading in ("## Architecture", "## Settings", "## Capacity and scaling out",
                    "## Rolling restart", "## Logs", "## Metrics and health", "## Backups",
                    "## Security checklist"):
        assert heading in text, heading
    assert "not been built or\n> started" in text or "has **not been built or" in text
    for topic in ("CALLFLOW_ALLOWED_PREFIXES", "rediss://", "CALLFLOW_API_TOKENS_FILE",
                  "FREESWITCH_ESL_PASSWORD", "Sentinel", "stop_grace_period"):
        assert topic in text, topic
    assert re.search(r"docker-compose -f docker/compose\.yaml .*config", text)
