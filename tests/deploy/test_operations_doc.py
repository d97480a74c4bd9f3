"""The operator's documents stay in step with the code: docs/configuration.md carries
every engine and API setting with its current default (and advice on when to change
it), docs/operations.md every metric, the operator topics and the validation note."""
from __future__ import annotations

import re

import pytest

from engine.settings import Settings
from rules.api.settings import ApiSettings
from tests.deploy.conftest import REPO
from tests.deploy.settings_table import (API_BEGIN, API_END, BEGIN, DOC_NAME, END,
                                         default_text, env_name)

CONFIG_DOC = REPO / DOC_NAME
OPERATIONS_DOC = REPO / "docs" / "operations.md"
HINT = ("regenerate the tables with `.venv/bin/python -m tests.deploy.settings_table` and "
        f"paste them over the marked blocks in {DOC_NAME}")

TABLES = {"engine": (Settings, BEGIN, END), "api": (ApiSettings, API_BEGIN, API_END)}


def settings_block(begin: str, end: str) -> str:
    text = CONFIG_DOC.read_text()
    assert begin in text and end in text, f"settings table markers missing in {DOC_NAME}; {HINT}"
    return text[text.index(begin) + len(begin):text.index(end)]


def table_rows(begin: str, end: str) -> dict[str, list[str]]:
    rows = {}
    for line in settings_block(begin, end).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith("`CALLFLOW_"):
            rows[cells[0].strip("`")] = cells
    return rows


@pytest.mark.parametrize("which", TABLES)
def test_every_setting_is_documented_with_its_default(which):
    model, begin, end = TABLES[which]
    rows = table_rows(begin, end)
    for field in model.model_fields:
        name = env_name(field)
        assert name in rows, f"{which} setting {name} is missing from {DOC_NAME}; {HINT}"
        assert rows[name][2] == default_text(field, model), f"{name}: stale default; {HINT}"
        assert len(rows[name]) == 5 and rows[name][4], (
            f"{name}: no advice on when to change it; add it to tests/deploy/settings_table.py "
            f"and {HINT}")


@pytest.mark.parametrize("which", TABLES)
def test_no_stale_setting_in_the_table(which):
    model, begin, end = TABLES[which]
    known = {env_name(f) for f in model.model_fields}
    stale = set(table_rows(begin, end)) - known
    assert not stale, f"{DOC_NAME} lists {which} settings that no longer exist: {stale}; {HINT}"


def test_every_metric_is_documented():
    from engine import metrics

    text = OPERATIONS_DOC.read_text()
    names = {family.name for family in metrics.REGISTRY.collect()}
    assert names
    for name in names:
        suffix = "_total" if f"{name}_total" in text else ""
        assert f"`{name}{suffix}`" in text, f"metric {name} is not in docs/operations.md"


def test_guide_covers_the_operator_topics():
    text = OPERATIONS_DOC.read_text()
    for heading in ("## Architecture", "## Settings", "## Capacity and scaling out",
                    "## Rolling restart", "## Logs", "## Metrics and health", "## Backups",
                    "## Security checklist"):
        assert heading in text, heading
    assert "not been built or\n> started" in text or "has **not been built or" in text
    for topic in ("CALLFLOW_ALLOWED_PREFIXES", "rediss://", "CALLFLOW_API_TOKENS_FILE",
                  "FREESWITCH_ESL_PASSWORD", "Sentinel", "stop_grace_period"):
        assert topic in text, topic
    assert re.search(r"docker-compose -f docker/compose\.yaml .*config", text)
    assert "docs/configuration.md" in text or "(configuration.md)" in text


def test_readme_stays_short_and_points_into_docs():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200, "README.md: at most 200 lines; move detail to docs/"
    for doc in ("docs/design.md", "docs/configuration.md", "docs/operations.md",
                "docs/testing.md"):
        assert f"({doc})" in readme, f"README.md does not link {doc}"
        assert (REPO / doc).is_file(), doc
