"""Fixtures of the CLI tests (``callflow`` itself is in tests/conftest.py)."""
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]


@pytest.fixture
def example():
    return ROOT / "examples" / "rules.yaml"
