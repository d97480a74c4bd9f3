"""FreeSWITCH's outbound event socket (ESL), in three parts:

* ``engine.esl.framing``: pure; bytes in, ``Message`` out, commands out as bytes; the
  size limits that bound what one peer can make the engine hold.
* ``engine.esl.connection``: ``OutboundConnection``, one socket per call, owning the life
  of each command (a reply wait per command, an ``AppRequest`` per application).

Only the FreeSWITCH adapter (``engine.freeswitch``) and the service that wires it import
this package; steps and the runner never do (docs/design.md, "Layers").
"""
from engine.esl.connection import CommandRejected, OutboundConnection
from engine.esl.framing import DEFAULT_LIMITS, FrameDecoder, Limits, Message

__all__ = ["CommandRejected", "DEFAULT_LIMITS", "FrameDecoder", "Limits", "Message",
           "OutboundConnection"]
