"""Asterisk's FastAGI, in three parts (the same split as ``engine.esl``):

* ``engine.agi.framing``: pure; bytes in, the ``agi_*`` environment and replies out,
  commands out as bytes; the size limits that bound what one peer can make us hold.
* ``engine.agi.connection``: ``AgiConnection``, one socket per call, one command at a
  time, a deadline per command, hang-up and EOF as ``CallerGone``.

Only the Asterisk adapter (``engine.asterisk``) and the service that wires it import this
package; steps and the runner never do (docs/design.md, "Layers").
"""
from engine.agi.connection import AgiConnection
from engine.agi.framing import DEFAULT_LIMITS, HANGUP, AgiDecoder, Environment, Limits, Reply

__all__ = ["AgiConnection", "AgiDecoder", "DEFAULT_LIMITS", "Environment",
           "HANGUP", "Limits", "Reply"]
