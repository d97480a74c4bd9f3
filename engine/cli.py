"""The `callflow` command: a registry of subcommands, one module each.

Every module in ``COMMANDS`` exposes ``register(subparsers)``; the parser it adds sets
``func(args) -> int``. Exit status: 0 success, 1 refused input, 2 usage error.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Order is the order shown in --help.
COMMANDS = (
    "engine.commands.serve",
    "engine.commands.rules",
    "engine.commands.plan",
    "engine.commands.voicemail",
    "engine.commands.api",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callflow", description="Call-flow engine for FreeSWITCH numbers.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        # docs/design.md: patch_all() is the first thing `serve` does, before any module
        # (pydantic, logging, redis) has imported threading or socket.
        from gevent import monkey

        monkey.patch_all()
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
