"""The steps of a call, one module each, looked up by name by the runner.

Every step is ``run(ctx, item, ...) -> Outcome``; a caller hanging up surfaces as
``CallerGone`` from any of them. Steps never decide what comes next.
"""
from engine.steps import forward, hangup, play, voicemail

STEPS = {
    "play": play.run,
    "forward": forward.run,
    "voicemail": voicemail.run,
    "hangup": hangup.run,
}
