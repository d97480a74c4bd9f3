"""`callflow rules`: manage number configurations.

``callflow rules check FILE [--allow-prefix P ...]`` validates a YAML/JSON configuration
file: exit 0 with a one-line summary on stdout, or exit 1 with every error, one
``path: message`` per line, on stderr. Later actions (push, pull, delete) are further
sub-parsers of ``rules``. Imports nothing from gevent.
"""
from __future__ import annotations

import argparse
import sys

from rules.errors import ConfigError


def add_allow_prefix(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-prefix", action="append", default=[], metavar="P", dest="allow_prefix",
        help="deployment allow-list of destination prefixes (+55, sip:, pbx.example.com); "
             "repeatable; none given = every valid destination is allowed")


def register(subparsers) -> None:
    parser = subparsers.add_parser("rules", help="check (and later push/pull) number configurations",
                                   description="Manage number configurations.")
    actions = parser.add_subparsers(dest="rules_action", metavar="ACTION")
    actions.required = True
    check = actions.add_parser("check", help="validate a configuration file",
                               description="Validate a YAML or JSON configuration file.")
    check.add_argument("file", help="configuration file (YAML or JSON)")
    add_allow_prefix(check)
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    from rules.loader import load_file

    try:
        ruleset = load_file(args.file, allowed_prefixes=tuple(args.allow_prefix))
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return 1
    count = len(ruleset)
    print(f"ok: {count} number{'s' if count != 1 else ''}, {ruleset.entries} "
          f"entr{'ies' if ruleset.entries != 1 else 'y'}")
    return 0
