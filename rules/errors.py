"""The project's one exceptions module.

Hierarchy::

    CallflowError                      base of everything callflow raises on purpose
    ├── ConfigError                    a configuration was refused; .errors lists every
    │                                  (path, message) pair, e.g.
    │                                  ("numbers.+551140040000.forwarding[1].ring_seconds",
    │                                   "must be between 5 and 300")
    ├── StoreUnavailable               the configuration store (file, Redis) cannot be read
    │                                  or written right now (third-party errors mapped here)
    ├── SpoolError                     the voicemail e-mail spool cannot be written, or a
    │                                  job in it is unknown or unreadable
    └── CallError                      something ended or broke one call's control
        ├── CallerGone                 the caller hung up, or FreeSWITCH's socket closed
        │                              (with or without a disconnect notice); any wait
        │                              on the call may raise it
        ├── CommandTimeout             FreeSWITCH did not answer a command or complete an
        │                              application within its bound
        └── ProtocolError              a frame from FreeSWITCH could not be understood
            │                          (bad Content-Length, not UTF-8, ...)
            └── FrameTooLarge          a frame went over a size limit (header block,
                                       header count, one header, body): the peer is
                                       dropped before it can grow the engine's memory

It lives in ``rules`` because that is the package every other one imports; ``rules``
itself never raises the ``CallError`` branch.
"""
from __future__ import annotations


class CallflowError(Exception):
    """Base of every error callflow raises on purpose."""


class ConfigError(CallflowError):
    """A configuration was refused as a whole.

    ``errors`` holds every problem found, as ``(path, message)`` pairs, in the order
    they were found. ``str()`` gives one ``path: message`` per line.
    """

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = list(errors)
        super().__init__("\n".join(f"{p}: {m}" if p else m for p, m in self.errors))

    def lines(self) -> list[str]:
        return [f"{p}: {m}" if p else m for p, m in self.errors]


class StoreUnavailable(CallflowError):
    """The configuration store cannot be reached or read right now."""


class SpoolError(CallflowError):
    """The voicemail e-mail spool cannot be written, or a job in it is unknown or unreadable."""


class CallError(CallflowError):
    """Base of the errors that end or break the control of one call."""


class CallerGone(CallError):
    """The caller hung up or the event socket closed; the call cannot go on."""


class CommandTimeout(CallError):
    """FreeSWITCH did not reply to a command or finish an application in time."""


class ProtocolError(CallError):
    """A frame from FreeSWITCH could not be understood."""


class FrameTooLarge(ProtocolError):
    """A frame from the switch went over one of the framing limits."""
