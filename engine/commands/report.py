"""How every command reports refused input: on stderr, one ``path: message`` per line,
the same text as ``rules check`` (a configuration) or ``settings.<field>: message`` (a
setting from the environment or a flag). Each returns the exit status to use."""
from __future__ import annotations

import sys


def config_error(exc, status: int = 1) -> int:
    """A ``rules.errors.ConfigError``: every error with its path."""
    for line in exc.lines():
        print(line, file=sys.stderr)
    return status


def settings_error(exc) -> int:
    """A pydantic ``ValidationError`` of a settings class: usage error (2)."""
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        print(f"settings.{where}: {err['msg']}", file=sys.stderr)
    return 2
