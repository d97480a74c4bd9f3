"""Everything a call's steps share: the call (through the switch seam), the plan, the
deployment's folders, the voicemail hand-off, the call-record sink, the logger and the
call record being built (read by steps, written only by the runner)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.identifiers import file_in
from engine.records import CallRecord
from engine.switch import SwitchCall
from rules.plan import Plan


@dataclass
class Services:
    """Process-wide collaborators, built once by the service."""

    media_dir: Path
    recordings_dir: Path
    voicemail_dir: Path
    voicemail_sink: "object"
    silence_threshold: int = 200
    silence_hits: int = 3
    # Where finished call records go besides the log line (``submit(record)``, must not
    # block or raise: engine.call_log.CallRecordStream); None: the log line only.
    record_sink: "object | None" = None


@dataclass
class CallContext:
    call: SwitchCall
    plan: Plan
    services: Services
    record: CallRecord
    log: "object"

    def media_path(self, audio: str) -> str:
        # Audio names were validated at load time as relative, without "..".
        return str(self.services.media_dir / audio)

    def dated_path(self, root: Path) -> Path:
        """``root/yyyy/mm/dd/<uuid>.wav``, checked to stay inside ``root`` (the uuid was
        checked by the runner; this is the second line)."""
        d = self.record.started_at
        path = file_in(root, f"{d:%Y}", f"{d:%m}", f"{d:%d}", f"{self.record.uuid}.wav")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
