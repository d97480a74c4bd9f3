import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.fixture
def callflow():
    """Run `python -m engine.cli ...` the way a user runs `callflow ...`."""
    def run(*args):
        return subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    return run


@pytest.fixture
def example():
    return ROOT / "examples" / "rules.yaml"
