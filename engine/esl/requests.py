"""The requests an ``OutboundConnection`` tracks, one object per command in flight.

A plain command's reply carries no id, so ``ReplyWait``s are matched FIFO; an
application sent with ``sendmsg`` owns its ``Event-UUID`` and is completed by the
``CHANNEL_EXECUTE_COMPLETE`` whose ``Application-UUID`` equals it (transcript 02). Each
object owns its completion (an ``AsyncResult``); the connection only routes frames to them.
"""
from __future__ import annotations

from gevent.event import AsyncResult

from engine.esl.framing import Message
from rules.errors import ProtocolError

__all__ = ["AppRequest", "CommandRejected", "EventWait", "ReplyWait"]


class CommandRejected(ProtocolError):
    """FreeSWITCH answered a command with something other than ``+OK``."""

    def __init__(self, message: str, reply: Message):
        super().__init__(message)
        self.reply = reply


class ReplyWait:
    """One plain command waiting for its reply (FIFO: replies carry no id)."""

    __slots__ = ("first_line", "encoded", "result")

    def __init__(self, command: str, encoded: bool):
        self.first_line = command.split("\n", 1)[0]
        self.encoded = encoded          # its reply's headers are URL-encoded (connect)
        self.result = AsyncResult()


class AppRequest:
    """One application sent with ``sendmsg``: its id, its completion, who waits for it."""

    __slots__ = ("uuid", "app", "completion", "waiter", "after_hangup")

    def __init__(self, app_uuid: str, app: str):
        self.uuid = app_uuid
        self.app = app
        self.completion: Message | None = None
        self.waiter: AsyncResult | None = None    # set while a wait_complete runs
        self.after_hangup = False


class EventWait:
    """One ``wait_event``: its predicate and its result."""

    __slots__ = ("predicate", "after_hangup", "result")

    def __init__(self, predicate, after_hangup: bool):
        self.predicate = predicate
        self.after_hangup = after_hangup
        self.result = AsyncResult()
