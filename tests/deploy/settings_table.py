"""The tables of settings in docs/configuration.md, generated from the code: the engine's
(``engine.settings.Settings``) and the API's (``rules.api.settings.ApiSettings``).

    .venv/bin/python -m tests.deploy.settings_table      # prints both tables, with markers

tests/deploy/test_operations_doc.py fails when docs/configuration.md lacks a setting, shows
a stale default, lists a setting that is gone, or has no advice for one; paste this
output over the two marked blocks there. A new setting needs a sentence in ``ADVICE``
(or ``API_ADVICE``) below: when an operator would change it.
"""
from __future__ import annotations

from pathlib import Path

from engine.settings import Settings
from rules.api.settings import ApiSettings

DOC_NAME = "docs/configuration.md"
BEGIN = "<!-- settings-table:begin (generated: python -m tests.deploy.settings_table) -->"
END = "<!-- settings-table:end -->"
API_BEGIN = "<!-- api-settings-table:begin (generated: python -m tests.deploy.settings_table) -->"
API_END = "<!-- api-settings-table:end -->"

# Fields that carry no description in the settings classes.
FALLBACK_DESCRIPTIONS = {
    "log_format": "`json` (one object per line) or `text` (for a terminal)",
    "log_level": "`DEBUG`, `INFO`, `WARNING` or `ERROR`; `DEBUG` logs every command sent",
}

# When an operator changes each engine setting (one sentence each; a missing one fails
# tests/deploy/test_operations_doc.py).
ADVICE = {
    "rules": "Always in production: a Redis URL (with a password or an ACL user) for more "
             "than one engine, a file path for a single box or a lab.",
    "listen": "In a container or when FreeSWITCH runs on another host: bind the address "
              "FreeSWITCH's `socket` action dials, and firewall it to the switches.",
    "http_listen": "When something else (Prometheus, the Docker health check, a balancer) "
                   "must reach `/health` and `/metrics` from outside the host.",
    "media_dir": "When the audio lives elsewhere; it must be the same path FreeSWITCH sees.",
    "recordings_dir": "To put recordings on a large or backed-up volume; same path in "
                      "FreeSWITCH, the engines and the API.",
    "voicemail_dir": "As for recordings: a durable volume at the same path everywhere.",
    "dial_e164_template": "When the carrier gateway in FreeSWITCH is not named `default`, "
                          "or numbers must be dialled without the `+` (`{digits}`).",
    "dial_sip_template": "When SIP destinations leave through another Sofia profile.",
    "allowed_prefixes": "Always in production: the destination prefixes you pay for "
                        "(`+55`), so a bad configuration cannot dial abroad.",
    "max_calls": "To the number of calls one engine should carry before FreeSWITCH moves "
                 "to the next engine; size FreeSWITCH's `max-sessions` from the sum.",
    "max_call_seconds": "Raise it for services with very long conversations; lower it to "
                        "cut runaway calls sooner.",
    "command_timeout": "Raise it only if a loaded switch is seen answering commands late "
                       "(`CommandTimeout` in the log).",
    "agi_listen": "Set it to serve Asterisk (its dialplan's AGI(agi://host:port)); "
                  "leave it unset on a FreeSWITCH-only deployment.",
    "agi_dial_e164_template": "Set it to the Asterisk channel that reaches your carrier "
                              "(e.g. PJSIP/{digits}@trunk).",
    "agi_dial_sip_template": "Set it to how your Asterisk dials a SIP address "
                             "(e.g. PJSIP/{uri}).",
    "max_message_seconds": "Raise it if you play messages longer than five minutes in a "
                           "format other than PCM WAV (a WAV's own length is read and used).",
    "linger_seconds": "Rarely: raise it if voicemails recorded right before a hang-up are "
                      "lost because FreeSWITCH's last events come late.",
    "esl_max_header_block": "Only if a legitimate switch sends bigger frames (the log "
                            "names the limit that dropped the peer).",
    "esl_max_headers": "Only if a switch with many channel variables is dropped for it.",
    "esl_max_header_line": "Only if one legitimate header (a long variable) is longer.",
    "esl_max_body": "Only if legitimate events carry bodies larger than a megabyte.",
    "drain_seconds": "To the longest call you are willing to wait for during a restart; "
                     "keep it below the container's `stop_grace_period`.",
    "redis_stream_maxlen": "To how many recent call records the API's call statement "
                           "should reach back (memory of Redis grows with it).",
    "redis_buffer_size": "Raise it when Redis outages may last longer than this many calls.",
    "redis_version_check_seconds": "Lower it for a shorter worst case after a lost pub/sub "
                                   "message; higher costs one GET less per period.",
    "spool_dir": "Always in production: a local, durable volume (not NFS: jobs are `flock`ed).",
    "smtp_url": "Always in production: your relay, with `smtp+starttls://` or `smtps://`.",
    "mail_from": "To a sender address your relay accepts and your users trust.",
    "mail_max_age_seconds": "To how long a voicemail e-mail may be retried before it "
                            "needs a human (`callflow voicemail retry`).",
    "mail_max_attachment_bytes": "When the relay or the mailboxes refuse large messages.",
    "mail_templates_dir": "To change the subject or body (language, wording) of the e-mails.",
    "log_format": "`text` on a terminal; keep `json` wherever logs are shipped.",
    "log_level": "`DEBUG` while chasing a problem on one engine; never left on under load.",
}

API_ADVICE = {
    "rules": "Always: the same Redis the engines read (the API only writes Redis).",
    "api_listen": "In a container (`0.0.0.0:8000`); publish it only behind a TLS proxy.",
    "api_tokens_file": "Always: without it no request is authorised.",
    "recordings_dir": "To the engines' recordings folder, at the path the engines see.",
    "voicemail_dir": "To the engines' voicemail folder, at the path the engines see.",
    "allowed_prefixes": "Always the same list as the engines', so the API stores nothing "
                        "the engines would refuse.",
    "api_max_body_bytes": "Only if legitimate entries are larger than a megabyte (a "
                          "number with thousands of entries); a bigger body is refused with 413.",
    "api_max_json_depth": "Rarely: a number's entry nests a few levels; deeper bodies are "
                          "attacks on the parser (422).",
    "api_max_json_items": "Only if one legitimate list (entries, callers, dates) holds more "
                          "than ten thousand items (422 beyond).",
    "api_body_timeout_seconds": "Raise it for clients on very slow links; lower it to free "
                                "connections held by slow senders sooner (408).",
    "log_format": "As for the engine.",
    "log_level": "As for the engine.",
}

# `callflow api` has flags for two settings only (engine/commands/api.py).
API_FLAGS = {"api_listen": "--listen", "api_tokens_file": "--tokens-file"}


def env_name(field: str) -> str:
    return "CALLFLOW_" + field.upper()


def default_text(field: str, model=Settings) -> str:
    value = model.model_fields[field].default
    if value is None or value == () or value == "":
        return "(empty)"
    if isinstance(value, Path):
        return f"`{value.as_posix()}`"
    return f"`{value}`"


def description(field: str, model=Settings) -> str:
    info = model.model_fields[field]
    return (info.description or FALLBACK_DESCRIPTIONS.get(field, "")).replace("|", "\\|")


def advice(field: str, model=Settings) -> str:
    table = ADVICE if model is Settings else API_ADVICE
    return table.get(field, "").replace("|", "\\|")


def flag(field: str, model=Settings) -> str:
    if model is Settings:
        return f"`--{field.replace('_', '-')}`"
    return f"`{API_FLAGS[field]}`" if field in API_FLAGS else "–"


def rows(model=Settings) -> list[str]:
    return [f"| `{env_name(f)}` | {flag(f, model)} | {default_text(f, model)} | "
            f"{description(f, model)} | {advice(f, model)} |"
            for f in model.model_fields]


def table(model=Settings) -> str:
    return "\n".join(["| variable | flag | default | meaning | when to change it |",
                      "|---|---|---|---|---|", *rows(model)])


if __name__ == "__main__":
    print(BEGIN)
    print(table(Settings))
    print(END)
    print()
    print(API_BEGIN)
    print(table(ApiSettings))
    print(API_END)
