"""`callflow serve`: run the engine (settings from CALLFLOW_* and matching flags)."""
from __future__ import annotations

import sys

from engine import settings as settings_mod


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the engine: FreeSWITCH's outbound event socket")
    settings_mod.add_flags(p)
    p.set_defaults(func=main)


def main(args) -> int:
    # engine.cli has already run gevent.monkey.patch_all() for this subcommand.
    from pydantic import ValidationError

    from engine import logs
    from rules.errors import ConfigError

    try:
        settings = settings_mod.from_args(args)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            print(f"settings.{where}: {err['msg']}", file=sys.stderr)
        return 2
    logs.setup(settings.log_format, settings.log_level)
    from engine.service import Service

    try:
        return Service(settings).serve_forever()
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return 1
