"""The table of engine settings in README.md (operator's guide), generated from engine.settings.

    .venv/bin/python -m tests.deploy.settings_table      # prints the table

tests/deploy/test_operations_doc.py fails when README.md (operator's guide) lacks a setting or shows
a stale default; paste this output between the markers there.
"""
from __future__ import annotations

from pathlib import Path

from engine.settings import Settings

BEGIN = "<!-- settings-table:begin (generated: python -m tests.deploy.settings_table) -->"
END = "<!-- settings-table:end -->"

# Fields that carry no description in engine/settings.py.
FALLBACK_DESCRIPTIONS = {
    "log_format": "`json` (one object per line) or `text` (for a terminal)",
    "log_level": "`DEBUG`, `INFO`, `WARNING` or `ERROR`; `DEBUG` logs every command sent",
}


def env_name(field: str) -> str:
    return "CALLFLOW_" + field.upper()


def default_text(field: str) -> str:
    value = Settings.model_fields[field].default
    if value is None or value == () or value == "":
        return "(empty)"
    if isinstance(value, Path):
        return f"`{value.as_posix()}`"
    return f"`{value}`"


def description(field: str) -> str:
    info = Settings.model_fields[field]
    return (info.description or FALLBACK_DESCRIPTIONS.get(field, "")).replace("|", "\\|")


def rows() -> list[str]:
    return [f"| `{env_name(f)}` | `--{f.replace('_', '-')}` | {default_text(f)} | {description(f)} |"
            for f in Settings.model_fields]


def table() -> str:
    return "\n".join(["| variable | flag | default | meaning |", "|---|---|---|---|", *rows()])


if __name__ == "__main__":
    print(BEGIN)
    print(table())
    print(END)
