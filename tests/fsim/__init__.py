"""FreeSWITCH simulator for callflow's tests (stdlib only, blocking sockets and threads).

It speaks the outbound event-socket protocol from FreeSWITCH's side, following the real
captures in ``tests/data/esl-transcripts/`` (where they and this code differ, the transcript is
right). Import as ``from fsim import Simulator, Target`` (pytest puts ``tests/`` on sys.path).
"""
from .channel import BridgeRecord, Call, CallResult, Command
from .simulator import CallHandle, Simulator
from .targets import Target, parse_dial_string
from . import wire

__all__ = ["Simulator", "Target", "CallHandle", "CallResult", "BridgeRecord", "Command", "Call",
           "parse_dial_string", "wire"]
