"""`callflow api`: serve the management REST API (``rules.api``) with uvicorn.

Settings come from ``CALLFLOW_*`` (``rules.api.settings.ApiSettings``: ``CALLFLOW_RULES``
must be a Redis URL, ``CALLFLOW_API_LISTEN``, ``CALLFLOW_API_TOKENS_FILE``, the
recordings/voicemail folders, ``CALLFLOW_ALLOWED_PREFIXES``); ``--listen`` and
``--tokens-file`` override the environment. Exit 2 for bad settings or a bad tokens file
(every error printed), 0 after a clean shutdown.

A separate process from the engine: it never imports gevent (``engine.cli`` only
monkey-patches for ``serve``). FastAPI and uvicorn are imported here, lazily, so the
other subcommands do not pay for them.
"""
from __future__ import annotations

import argparse

from engine.commands import report


def register(subparsers) -> None:
    parser = subparsers.add_parser("api", help="serve the management REST API",
                                   description="Serve the management REST API over the Redis store.")
    parser.add_argument("--listen", default=None, metavar="HOST:PORT",
                        help="address to listen on (env CALLFLOW_API_LISTEN, default 127.0.0.1:8000)")
    parser.add_argument("--tokens-file", default=None, metavar="FILE",
                        help="YAML file of bearer tokens (env CALLFLOW_API_TOKENS_FILE)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from rules.api.settings import ApiSettings
    from rules.errors import ConfigError

    given = {}
    if args.listen is not None:
        given["api_listen"] = args.listen
    if args.tokens_file is not None:
        given["api_tokens_file"] = args.tokens_file
    try:
        settings = ApiSettings(**given)
    except ValidationError as exc:
        return report.settings_error(exc)

    import uvicorn

    from engine import logs
    from rules.api.app import create_app
    from rules.redis_store import RedisStore

    logs.setup(settings.log_format, settings.log_level)
    try:
        store = RedisStore(settings.rules, settings.allowed_prefixes, retries=1)
        app = create_app(settings, store)
    except ConfigError as exc:
        return report.config_error(exc, status=2)
    host, port = settings.listen_address
    # One log format for the whole process: uvicorn's loggers propagate to our handler
    # (log_config=None). Its access log shows the request line, never headers: tokens
    # stay out of it.
    uvicorn.run(app, host=host, port=port, log_config=None,
                log_level=settings.log_level.lower(), proxy_headers=False)
    store.close()
    return 0
