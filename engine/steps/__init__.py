"""The steps of a call, one module each, looked up by name by the runner.

One contract: ``run(ctx, item) -> StepResult`` (``engine.outcomes``). A step talks to the
call only through the switch seam (``engine.switch``), never to a switch's own modules;
it never decides what comes next and never writes the call record: the runner does
both from the result. A caller hanging up surfaces as ``CallerGone`` from play and
hangup; forward and voicemail report it in their result.
"""
from engine.steps import forward, hangup, play, voicemail

STEPS = {
    "play": play.run,
    "forward": forward.run,
    "voicemail": voicemail.run,
    "hangup": hangup.run,
}
