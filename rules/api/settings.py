"""Settings of `callflow api`: environment variables ``CALLFLOW_*`` (the engine's pattern,
``engine.settings``), several of them shared with the engine so one environment file can
serve both.

* ``CALLFLOW_RULES``: the Redis URL of the store (the API has no file mode: it writes).
* ``CALLFLOW_API_LISTEN``: ``host:port`` (default ``127.0.0.1:8000``).
* ``CALLFLOW_API_TOKENS_FILE``: the YAML file of bearer tokens (``rules.api.auth``).
* ``CALLFLOW_RECORDINGS_DIR`` / ``CALLFLOW_VOICEMAIL_DIR``: the only folders audio is
  served from (as the engine sees them: records hold absolute paths).
* ``CALLFLOW_ALLOWED_PREFIXES``: the engine's destination allow-list; every write is
  validated with it, so the API cannot store what the engines would refuse. A token may
  narrow it further (``allowed_prefixes`` in the tokens file, ``rules.api.auth``).
* ``CALLFLOW_API_MAX_BODY_BYTES``, ``CALLFLOW_API_MAX_JSON_DEPTH``,
  ``CALLFLOW_API_MAX_JSON_ITEMS``, ``CALLFLOW_API_BODY_TIMEOUT_SECONDS``: the limits on a
  request body, enforced while it is read (``rules.api.limits``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rules.settings_types import PrefixList, parse_address
from rules.store import is_redis_url

__all__ = ["ApiSettings", "parse_address"]


class ApiSettings(BaseSettings):
    # extra="ignore": the engine's own CALLFLOW_* variables may share the environment.
    model_config = SettingsConfigDict(env_prefix="CALLFLOW_", extra="ignore")

    rules: str = Field("redis://127.0.0.1:6379/0", description="the Redis store's URL")
    api_listen: str = Field("127.0.0.1:8000", description="address the API listens on")
    api_tokens_file: Path | None = Field(None, description="YAML file of bearer tokens (SHA-256)")
    recordings_dir: Path = Field(Path("var/recordings"), description="recorded conversations")
    voicemail_dir: Path = Field(Path("var/voicemail"), description="voicemail recordings")
    allowed_prefixes: PrefixList = Field(
        (), description="comma-separated destination prefixes allowed (empty: any)")
    api_max_body_bytes: int = Field(
        1_048_576, ge=1, description="largest request body accepted, in bytes (413 beyond)")
    api_max_json_depth: int = Field(
        32, ge=1, description="deepest nesting of arrays and objects in a JSON body (422 beyond)")
    api_max_json_items: int = Field(
        10_000, ge=1, description="most items in one JSON array or members in one object (422 beyond)")
    api_body_timeout_seconds: float = Field(
        10.0, gt=0, description="time allowed to receive a whole request body (408 beyond)")
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("rules")
    @classmethod
    def _redis(cls, v: str) -> str:
        if not is_redis_url(v):
            raise ValueError("the API writes the Redis store: use a redis://, rediss:// or "
                             "unix:// URL (files are managed with `callflow rules push`)")
        return v

    @field_validator("api_listen")
    @classmethod
    def _address(cls, v: str) -> str:
        parse_address(v, "api_listen")
        return v

    @property
    def listen_address(self) -> tuple[str, int]:
        return parse_address(self.api_listen, "api_listen")
