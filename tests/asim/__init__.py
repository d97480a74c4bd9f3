"""An Asterisk FastAGI simulator for the engine's tests: ``Simulator`` places calls,
``Target`` and ``Caller`` script the far ends and the caller (see ``simulator``,
``channel``, ``dialing``, ``recording``, ``targets``; ``wire`` reads the captures)."""
from .simulator import CallHandle, Simulator
from .targets import Caller, Target

__all__ = ["CallHandle", "Caller", "Simulator", "Target"]
