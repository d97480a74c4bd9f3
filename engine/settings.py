"""Deployment settings of the engine: environment variables ``CALLFLOW_*`` and the
matching ``callflow serve`` flags (a flag wins over the environment).

Every setting has a default that runs the embedded example on a developer's machine;
production sets folders, templates and limits explicitly (docs/configuration.md, docs/operations.md).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.dial_templates import check_template
from rules.settings_types import PrefixList, parse_address


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALLFLOW_", extra="forbid")

    rules: str = Field("examples/rules.yaml",
                       description="rules source: a YAML/JSON file path, or a Redis URL "
                                   "redis://[user:password@]host:port/db (rediss:// for TLS)")
    listen: str = Field("127.0.0.1:8084", description="outbound event-socket address FreeSWITCH dials")
    http_listen: str = Field("127.0.0.1:8090", description="address of /health and /metrics")
    media_dir: Path = Field(Path("media"), description="folder of the configured audio names")
    recordings_dir: Path = Field(Path("var/recordings"), description="record: true conversations")
    voicemail_dir: Path = Field(Path("var/voicemail"), description="voicemail recordings")
    dial_e164_template: str = Field("sofia/gateway/default/{e164}",
                                    description="endpoint for E.164 targets; {e164} {digits}")
    dial_sip_template: str = Field("sofia/external/{uri}",
                                   description="endpoint for sip: targets; {uri} is user@host")
    # Asterisk (FastAGI): off unless agi_listen is set; beside the event socket.
    agi_listen: str | None = Field(None, description="FastAGI address Asterisk's AGI() dials "
                                                     "(host:port); unset: no Asterisk")
    agi_dial_e164_template: str = Field("PJSIP/{digits}@trunk",
                                        description="Asterisk endpoint for E.164 targets; "
                                                    "{e164} {digits}")
    agi_dial_sip_template: str = Field("PJSIP/{uri}", description="Asterisk endpoint for sip: "
                                                                  "targets; {uri} is user@host")
    allowed_prefixes: PrefixList = Field(
        (), description="comma-separated destination prefixes allowed (empty: any)")
    max_calls: int = Field(500, ge=1, description="concurrent calls; beyond it calls are refused")
    max_call_seconds: int = Field(4 * 3600, ge=60, description="upper bound of any call")
    command_timeout: float = Field(5.0, gt=0, description="seconds FreeSWITCH has to reply")
    max_message_seconds: float = Field(300.0, gt=0, le=3600,
                                       description="longest wait for a message whose length "
                                                   "cannot be read (not a PCM WAV)")
    linger_seconds: int = Field(30, ge=1, description="linger after hangup, for cleanup events")
    # What one event-socket peer may make the engine hold (engine/esl/framing.py, Limits);
    # a peer over a limit is dropped with one log line, other calls never notice.
    esl_max_header_block: int = Field(64 * 1024, ge=4096, le=16 * 1024 * 1024,
                                      description="bytes of one ESL header block")
    esl_max_headers: int = Field(1024, ge=64, le=65536,
                                 description="header lines in one ESL frame or event")
    esl_max_header_line: int = Field(32 * 1024, ge=1024, le=16 * 1024 * 1024,
                                     description="bytes of one ESL header line")
    esl_max_body: int = Field(1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024,
                              description="bytes of one ESL body (an event)")
    drain_seconds: float = Field(60.0, ge=0, description="SIGTERM: wait this long for calls")
    # Redis (issue "Redis"): used when `rules` is a redis:// or rediss:// URL.
    redis_stream_maxlen: int = Field(1_000_000, ge=1000,
                                     description="approximate cap of the callflow:calls stream")
    redis_buffer_size: int = Field(10_000, ge=0,
                                   description="call records kept locally while Redis is away")
    redis_version_check_seconds: float = Field(5.0, gt=0,
                                               description="period of the missed-update check")
    # Voicemail e-mail (issue "Voicemail e-mail").
    spool_dir: Path = Field(Path("var/spool"), description="durable voicemail e-mail jobs")
    smtp_url: str = Field("", description="smtp://, smtp+starttls:// or smtps://user:pass@host:port; "
                                          "empty: voicemails stay on disk, logged")
    mail_from: str = Field("callflow@localhost", description="From: of voicemail e-mails")
    mail_max_age_seconds: float = Field(3 * 86400, gt=0,
                                        description="retry a job this long, then move it to failed/")
    mail_max_attachment_bytes: int = Field(0, ge=0,
                                           description="larger WAVs are not attached (0: no limit)")
    mail_templates_dir: Path | None = Field(None, description="subject.txt / body.txt overrides")
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("listen", "http_listen", "agi_listen")
    @classmethod
    def _address(cls, v: str | None, info):
        if v is not None:
            parse_address(v, info.field_name)
        return v

    @field_validator("dial_e164_template", "agi_dial_e164_template")
    @classmethod
    def _e164_template(cls, v: str):
        return check_template(v, "e164")

    @field_validator("dial_sip_template", "agi_dial_sip_template")
    @classmethod
    def _sip_template(cls, v: str):
        return check_template(v, "sip")

    @property
    def listen_address(self) -> tuple[str, int]:
        return parse_address(self.listen, "listen")

    @property
    def agi_address(self) -> tuple[str, int] | None:
        return parse_address(self.agi_listen, "agi_listen") if self.agi_listen else None

    @property
    def http_address(self) -> tuple[str, int]:
        return parse_address(self.http_listen, "http_listen")


def add_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per setting, defaulting to None so the environment stays in force."""
    for name, field in Settings.model_fields.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=None,
                            help=f"{field.description or name} (env CALLFLOW_{name.upper()})")


def from_args(args: argparse.Namespace) -> Settings:
    given = {k: getattr(args, k) for k in Settings.model_fields if getattr(args, k, None) is not None}
    return Settings(**given)
