"""Logging for people on call: one line per decision, each tagged with the call's uuid.

``setup(format, level)`` installs a single stdout handler: ``json`` (one JSON object per
line: ts, level, logger, msg and any structured fields) or ``text`` (for a terminal).
``call_logger(uuid)`` returns an adapter that adds ``uuid`` to every line it writes;
structured fields go in ``extra={"fields": {...}}`` so they stay machine-readable.
Secrets never go into a log line: the modules that hold them log names, not values.
"""
from __future__ import annotations

import json
import logging
import sys
import time

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


# One encoder, not one per line: json.dumps(..., ensure_ascii=False, default=str) builds a
# JSONEncoder on every call. Same output.
_ENCODE = json.JSONEncoder(ensure_ascii=False, default=str).encode


class JsonFormatter(logging.Formatter):
    # The "YYYY-mm-ddTHH:MM:SS" part of the last second logged: strftime(gmtime()) per line
    # was ~2 us of the ~30 us a line costs (the engine writes ~9 lines per call).
    # One tuple, read and replaced at once, so a thread never pairs a second with another's text.
    _second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        second, text = self._second
        if second != int(record.created):
            second = int(record.created)
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        out = {
            "ts": text + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        uuid = getattr(record, "uuid", None)
        if uuid:
            out["uuid"] = uuid
        out["msg"] = record.getMessage()
        out.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return _ENCODE(out)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}"
        uuid = getattr(record, "uuid", None)
        head = f"{ts} {record.levelname:<7} {record.name}"
        if uuid:
            head += f" [{uuid}]"
        line = f"{head} {record.getMessage()}"
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}"
                                   for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup(fmt: str = "json", level: str = "INFO") -> None:
    # No line prints them, and under gevent current_thread() builds a dummy thread object
    # for every greenlet that logs (measured: ~2% of the engine's CPU per call).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # No line prints the caller's file, function or line either: without _srcfile, logging
    # skips findCaller's walk up the stack (the documented switch, see "Optimization" in
    # the logging HOWTO). Measured: 34 -> 22 us per INFO line, ~9 lines per call.
    logging._srcfile = None
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class CallLogger(logging.LoggerAdapter):
    """Adds the call's uuid to every line; ``fields`` passes structured data through."""

    def process(self, msg, kwargs):
        extra = kwargs.setdefault("extra", {})
        extra["uuid"] = self.extra["uuid"]
        if "fields" in kwargs:
            extra["fields"] = kwargs.pop("fields")
        return msg, kwargs


def call_logger(uuid: str, name: str = "callflow.call") -> CallLogger:
    return CallLogger(logging.getLogger(name), {"uuid": uuid})
