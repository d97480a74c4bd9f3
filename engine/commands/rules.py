"""`callflow rules`: manage number configurations.

``callflow rules check FILE [--allow-prefix P ...] [--strict] [--media DIR] [--today D]``
validates a YAML/JSON configuration file (``--allow-prefix`` defaults to
``CALLFLOW_ALLOWED_PREFIXES``, as for push): exit 0 with a one-line summary on stdout, or
exit 1 with every error, one ``path: message`` per line, on stderr. Then the linter
(``rules.lint``): one ``path: warning: message`` line on stderr per entry that can never
take effect (exit still 0; 1 with ``--strict``); with ``--media DIR`` every audio named
must be a playable WAV in DIR, else each problem is an error line and the exit is 1.

The Redis store (``--redis URL``; default: ``CALLFLOW_RULES`` when it is a redis:// or
rediss:// URL; the password never appears in any output):

* ``rules push FILE --redis URL [--replace] [--allow-prefix P ...]`` validates the whole
  file first (nothing is written if anything is invalid: exit 1, errors as ``check``),
  then writes the numbers that differ from what is stored, bumps ``callflow:version`` and
  publishes, in one atomic step; ``--replace`` also removes the numbers the file lacks.
  ``--allow-prefix`` defaults to ``CALLFLOW_ALLOWED_PREFIXES``, the engines' own list.
* ``rules pull --redis URL`` prints the stored configuration as YAML (a file that can be
  pushed back).
* ``rules delete NUMBER... --redis URL`` removes numbers (any notation), atomically.

Exit status: 0 done, 1 refused input or Redis unavailable (the reason on stderr),
2 usage. Imports nothing from gevent.
"""
from __future__ import annotations

import argparse
import os
import sys

from rules.errors import ConfigError, StoreUnavailable
from engine.commands import report
from rules.settings_types import split_csv


def add_allow_prefix(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-prefix", action="append", default=[], metavar="P", dest="allow_prefix",
        help="deployment allow-list of destination prefixes (+55, sip:, pbx.example.com); "
             "repeatable; none given = CALLFLOW_ALLOWED_PREFIXES (empty: every valid "
             "destination is allowed)")


def register(subparsers) -> None:
    parser = subparsers.add_parser("rules", help="check, push, pull and delete number configurations",
                                   description="Manage number configurations.")
    actions = parser.add_subparsers(dest="rules_action", metavar="ACTION")
    actions.required = True
    check = actions.add_parser("check", help="validate a configuration file",
                               description="Validate a YAML or JSON configuration file.")
    check.add_argument("file", help="configuration file (YAML or JSON)")
    add_allow_prefix(check)
    check.add_argument("--strict", action="store_true",
                       help="exit 1 when there is any warning (entries that never take effect)")
    check.add_argument("--media", metavar="DIR", default=None,
                       help="also check that every audio the file names is a playable WAV in DIR")
    check.add_argument("--today", metavar="YYYY-MM-DD", default=None, type=_iso_date,
                       help="judge 'in the past' against this date (default: today in each "
                            "number's zone)")
    check.set_defaults(func=run_check)

    push = actions.add_parser("push", help="validate a file and push it to Redis",
                              description="Validate FILE as a whole, then write the numbers that "
                                          "changed to Redis and notify every engine, atomically.")
    push.add_argument("file", help="configuration file (YAML or JSON)")
    add_redis(push)
    push.add_argument("--replace", action="store_true",
                      help="also remove the stored numbers that FILE does not have")
    add_allow_prefix(push)
    push.set_defaults(func=run_push)

    pull = actions.add_parser("pull", help="print the configuration stored in Redis as YAML",
                              description="Print the configuration stored in Redis as YAML.")
    add_redis(pull)
    pull.set_defaults(func=run_pull)

    delete = actions.add_parser("delete", help="remove numbers from Redis",
                                description="Remove numbers from Redis and notify every engine.")
    delete.add_argument("numbers", nargs="+", metavar="NUMBER", help="number, in any notation")
    add_redis(delete)
    delete.set_defaults(func=run_delete)


def add_redis(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis", metavar="URL", default=None,
                        help="redis://[user:password@]host:port/db or rediss:// (TLS); "
                             "default: CALLFLOW_RULES when it is a Redis URL")


def _open_redis(args: argparse.Namespace, prefixes: tuple[str, ...] = ()):
    from rules.store import is_redis_url

    url = args.redis or os.environ.get("CALLFLOW_RULES", "")
    if not is_redis_url(url):
        print(f"callflow rules {args.rules_action}: give --redis URL (redis:// or rediss://)",
              file=sys.stderr)
        return None
    from rules.redis_store import RedisStore

    # A big push is one script; give it time rather than fail half-way for the client.
    return RedisStore(url, prefixes, socket_timeout=120.0, retries=1)


def _prefixes(args: argparse.Namespace) -> tuple[str, ...]:
    if args.allow_prefix:
        return tuple(args.allow_prefix)
    return split_csv(os.environ.get("CALLFLOW_ALLOWED_PREFIXES", ""))


_refused = report.config_error


def _unavailable(args: argparse.Namespace, exc: StoreUnavailable) -> int:
    print(f"callflow rules {args.rules_action}: Redis unavailable: {exc}", file=sys.stderr)
    return 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def run_push(args: argparse.Namespace) -> int:
    from rules.stored import StoredConfig

    prefixes = _prefixes(args)
    try:
        store = _open_redis(args, prefixes)     # no I/O yet
        if store is None:
            return 2
        config = StoredConfig.from_file(args.file, prefixes)   # everything, before any write
        result = store.push(config, replace=args.replace)
    except ConfigError as exc:
        return _refused(exc)
    except StoreUnavailable as exc:
        return _unavailable(args, exc)
    removed = [n for n in result.changed if n not in config.entries]
    written = len(result.changed) - len(removed)
    if not result.changed and not result.defaults_changed:
        print(f"nothing changed: {_plural(len(config.entries), 'number')} already stored "
              f"(version {result.version})")
    else:
        extra = f", {len(removed)} removed" if args.replace else ""
        extra += ", defaults changed" if result.defaults_changed else ""
        print(f"pushed: {written} of {_plural(len(config.entries), 'number')} written{extra} "
              f"(version {result.version})")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    import yaml

    try:
        store = _open_redis(args)
        if store is None:
            return 2
        data = store.pull()
    except ConfigError as exc:
        return _refused(exc)
    except StoreUnavailable as exc:
        return _unavailable(args, exc)
    sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True,
                                    default_flow_style=False, width=100))
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from rules.numbers import NumberError, normalise_number

    try:
        store = _open_redis(args)
        if store is None:
            return 2
        region = store.stored_defaults().region
        numbers, errors = [], []
        for text in args.numbers:
            try:
                numbers.append(normalise_number(text, region))
            except NumberError as exc:
                errors.append((f"numbers.{text}", str(exc)))
        if errors:
            raise ConfigError(errors)
        result = store.delete(numbers)
    except ConfigError as exc:
        return _refused(exc)
    except StoreUnavailable as exc:
        return _unavailable(args, exc)
    for number in numbers:
        if number not in result.changed:
            print(f"warning: {number} is not stored", file=sys.stderr)
    if result.changed:
        print(f"deleted: {', '.join(result.changed)} (version {result.version})")
    else:
        print(f"nothing deleted (version {result.version})")
    return 0


def _iso_date(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def run_check(args: argparse.Namespace) -> int:
    """Validate; then lint (warnings on stderr: exit 0, or 1 with --strict) and, with
    --media, check the audio (every problem on stderr: exit 1)."""
    from datetime import datetime, timezone

    from rules.lint import check_media, lint
    from rules.loader import load_mapping, read_file

    configs: dict = {}
    try:
        ruleset = load_mapping(read_file(args.file), allowed_prefixes=_prefixes(args),
                               configs=configs)
    except ConfigError as exc:
        return report.config_error(exc)
    today = args.today if args.today is not None else datetime.now(timezone.utc)
    warnings = lint(ruleset, today)
    for w in warnings:
        print(w.line(), file=sys.stderr)
    if args.media is not None:
        if not os.path.isdir(args.media):
            print(f"{args.media}: not a folder", file=sys.stderr)
            return 1
        problems = check_media(configs, args.media)
        if problems:
            return report.config_error(ConfigError(problems))
    count = len(ruleset)
    print(f"ok: {count} number{'s' if count != 1 else ''}, {ruleset.entries} "
          f"entr{'ies' if ruleset.entries != 1 else 'y'}"
          + (f", {_plural(len(warnings), 'warning')}" if warnings else ""))
    return 1 if warnings and args.strict else 0
