"""Step: play one message to the caller.

Answers first (a message needs media from our side), then plays. A missing file is
logged and skipped, never fatal: the caller still gets the rest of the flow
(transcript 06: on FreeSWITCH a missing file completes with ``FILE NOT FOUND``).
"""
from __future__ import annotations

from engine.media import audio_seconds
from engine.outcomes import Outcome, StepResult


def run(ctx, audio: str) -> StepResult:
    call = ctx.call
    call.answer()
    path = ctx.media_path(audio)
    result = call.play(path, audio_seconds(path))
    if result.played:
        ctx.log.info("message played", fields={"audio": audio})
    else:
        ctx.log.warning("message not played", fields={"audio": audio, "path": path,
                                                       "response": result.detail})
    return StepResult(Outcome.DONE)
