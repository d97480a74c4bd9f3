"""The voicemail e-mail itself: an ``EmailMessage`` built from a spooled job. Pure: no
clock, no network, no file access beyond loading the templates once.

Contract:
- Subject and body come from ``string.Template`` texts (Portuguese defaults below, or
  ``subject.txt`` / ``body.txt`` in ``mail_templates_dir``), filled with
  ``safe_substitute`` from ``PLACEHOLDERS``; a template naming anything else is refused
  when loaded, so a typo shows at start, not in a customer's inbox.
- Headers are built with ``EmailMessage`` and the default policy (RFC 2047 for non-ASCII)
  from validated values only: the From of the deployment, recipients that pass
  ``check_email``, E.164 numbers, the call's uuid. Anything a caller controls (the
  Caller-ID name may carry CR/LF, control or non-ASCII characters) is reduced to one
  printable line, and the default subject keeps it out of headers altogether: the name
  goes in the body.
- ``Message-ID`` is derived from the job id, so a message sent twice (the spool's
  at-least-once window) carries the same id and clients that de-duplicate can.
- The WAV is attached as ``audio/wav``; when it is over the deployment's limit the caller
  gets no attachment but a note saying where the file is kept.
"""
from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Sequence

import phonenumbers

from rules.destinations import check_email

DEFAULT_SUBJECT = "Nova mensagem de voz para $number_display de $caller_display"

DEFAULT_BODY = """\
Você recebeu uma nova mensagem de voz.

Número chamado: $number_display
Quem ligou: $caller_display
Nome informado pelo chamador: $caller_name
Data e hora: $date às $time (UTC$utc_offset)
Duração: $duration

$attachment_note

--
Mensagem automática do callflow. Chamada $uuid.
"""

PLACEHOLDERS = {
    "number": "called number, E.164 (+551140040004)",
    "number_display": "called number, international format (+55 11 4004-0004)",
    "caller": "caller, E.164, or anônimo",
    "caller_display": "caller, international format, or anônimo",
    "caller_name": "Caller-ID name as one sanitised line, or 'não informado' (body only!)",
    "date": "local date of the call in the number's zone, DD/MM/AAAA",
    "time": "local time of the call, HH:MM",
    "utc_offset": "the zone's offset at that moment, -03:00",
    "duration": "length of the message, '45 s' or '1 min 05 s'",
    "seconds": "length of the message in whole seconds",
    "attachment_note": "says the audio is attached, or why not and where it is",
    "uuid": "the call's uuid",
}

ANONYMOUS = "anônimo"
NO_NAME = "não informado"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FROM = re.compile(rf"(?!\.)[A-Za-z0-9._%+-]{{1,64}}(?<!\.)@{_LABEL}(?:\.{_LABEL})*")


@dataclass(frozen=True)
class Templates:
    subject: string.Template
    body: string.Template

    @classmethod
    def load(cls, folder: Path | None = None) -> "Templates":
        """Defaults, overridden by ``folder/subject.txt`` and ``folder/body.txt`` where
        present. Raises ``ValueError`` for an unreadable file or an unknown placeholder."""
        texts = {"subject": DEFAULT_SUBJECT, "body": DEFAULT_BODY}
        if folder is not None:
            for part in texts:
                path = Path(folder) / f"{part}.txt"
                if path.exists():
                    try:
                        texts[part] = path.read_text(encoding="utf-8")
                    except (OSError, UnicodeDecodeError) as exc:
                        raise ValueError(f"{path}: cannot read template: {exc}") from None
        out = {}
        for part, text in texts.items():
            tpl = string.Template(text)
            if not tpl.is_valid():
                raise ValueError(f"{part} template: a '$' is neither $$ nor a $placeholder")
            unknown = set(tpl.get_identifiers()) - set(PLACEHOLDERS)
            if unknown:
                raise ValueError(f"{part} template: unknown placeholder(s) "
                                 f"{', '.join(sorted(unknown))}; known: {', '.join(PLACEHOLDERS)}")
            out[part] = tpl
        return cls(**out)


def sender_address(mail_from: str) -> Address:
    """``callflow@example.com`` or ``Name <callflow@example.com>`` -> Address; ValueError
    for anything else (checked at start)."""
    if any(c in mail_from for c in "\r\n"):
        raise ValueError("mail_from: must be one line")
    name, addr = parseaddr(mail_from)
    # Like check_email, but a bare host is fine here (the default is callflow@localhost).
    if not _FROM.fullmatch(addr) or ".." in addr:
        raise ValueError("mail_from: not an e-mail address (name@host or Name <name@host>)")
    return Address(display_name=one_line(name, 100), addr_spec=addr)


def should_attach(size: int, max_bytes: int) -> bool:
    return max_bytes <= 0 or size <= max_bytes


def one_line(text: str | None, limit: int = 200) -> str:
    """Printable, single-line text: controls (CR, LF, NUL, U+2028...) become spaces."""
    if not text:
        return ""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") else c
                      for c in text)
    return " ".join(cleaned.split())[:limit]


def placeholders(vm: dict, *, attached: bool, size: int | None) -> dict[str, str]:
    local = datetime.fromisoformat(vm["local_time"])
    seconds = max(0, int(round(float(vm["seconds"]))))
    offset = local.strftime("%z")
    if attached:
        note = "O áudio da mensagem está anexado a este e-mail."
    else:
        note = (f"O áudio ({_size_text(size)}) é grande demais para ser anexado; ele está "
                f"guardado no servidor em: {one_line(vm['path'], 500)}")
    return {
        "number": _e164_or(vm["number"], "?"),
        "number_display": _display(vm["number"], "?"),
        "caller": _e164_or(vm["caller"], ANONYMOUS),
        "caller_display": _display(vm["caller"], ANONYMOUS),
        "caller_name": one_line(vm.get("caller_name"), 100) or NO_NAME,
        "date": local.strftime("%d/%m/%Y"),
        "time": local.strftime("%H:%M"),
        "utc_offset": f"{offset[:3]}:{offset[3:]}" if offset else "",
        "duration": f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s",
        "seconds": str(seconds),
        "attachment_note": note,
        "uuid": _safe_id(vm.get("uuid")) or "?",
    }


def build(vm: dict, *, job_id: str, to: Sequence[str], mail_from: str, templates: Templates,
          audio: bytes | None, size: int | None = None) -> EmailMessage:
    """The e-mail for one voicemail (``vm`` is ``VoicemailMessage.to_json()``). ``audio``
    None means "not attached" (over the size limit); ``size`` is then the file's size."""
    values = placeholders(vm, attached=audio is not None, size=size)
    msg = EmailMessage()
    sender = sender_address(mail_from)
    msg["From"] = sender
    msg["To"] = [Address(addr_spec=check_email(a)) for a in to]
    # one_line after substitution too: a deployment's subject.txt may end with a newline.
    msg["Subject"] = one_line(templates.subject.safe_substitute(values), 250) or "Mensagem de voz"
    msg["Date"] = format_datetime(datetime.fromisoformat(vm["local_time"]))
    msg["Message-ID"] = f"<{_safe_id(job_id) or 'voicemail'}@{sender.domain}>"
    msg["Auto-Submitted"] = "auto-generated"      # RFC 3834: no vacation replies to us
    if _safe_id(vm.get("uuid")):
        msg["X-Callflow-Call-UUID"] = vm["uuid"]
    # quoted-printable keeps the Portuguese body readable in the raw message and in logs
    # of relays, where base64 would not.
    msg.set_content(templates.body.safe_substitute(values), cte="quoted-printable")
    if audio is not None:
        msg.add_attachment(audio, maintype="audio", subtype="wav", filename=attachment_name(vm))
    return msg


def attachment_name(vm: dict) -> str:
    local = datetime.fromisoformat(vm["local_time"])
    digits = "".join(c for c in str(vm.get("number", "")) if c.isdigit()) or "voicemail"
    return f"correio-de-voz-{digits}-{local:%Y%m%d-%H%M}.wav"


def _e164_or(value, fallback: str) -> str:
    return value if isinstance(value, str) and _E164.fullmatch(value) else fallback


def _display(value, fallback: str) -> str:
    e164 = _e164_or(value, "")
    if not e164:
        return fallback
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164),
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def _safe_id(value) -> str:
    return value if isinstance(value, str) and _SAFE_ID.fullmatch(value) else ""


def _size_text(size: int | None) -> str:
    if size is None:
        return "tamanho desconhecido"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")
    return f"{max(1, size // 1024)} KB"
