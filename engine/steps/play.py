"""Step: play one message to the caller.

Answers first (a message needs media from our side), then ``playback``. A missing file
is logged and skipped, never fatal: the caller still gets the rest of the flow
(transcript 06: a missing file completes with ``FILE NOT FOUND``).
"""
from __future__ import annotations

from engine.call import FILE_PLAYED
from engine.outcomes import Outcome


def run(ctx, audio: str) -> Outcome:
    call = ctx.call
    call.answer()
    path = ctx.media_path(audio)
    response = call.playback(path)
    if response == FILE_PLAYED:
        ctx.log.info("message played", fields={"audio": audio})
    else:
        ctx.log.warning("message not played", fields={"audio": audio, "path": path,
                                                       "response": response})
    return Outcome.DONE
