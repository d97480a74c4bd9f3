"""`callflow serve`: run the engine (settings from CALLFLOW_* and matching flags)."""
from __future__ import annotations


from engine import settings as settings_mod
from engine.commands import report


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
        return report.settings_error(exc)
    logs.setup(settings.log_format, settings.log_level)
    from engine.service import Service

    try:
        return Service(settings).serve_forever()
    except ConfigError as exc:
        return report.config_error(exc)
