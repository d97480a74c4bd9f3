"""The SMTP server of voicemail e-mail, as one URL (``CALLFLOW_SMTP_URL``).

``parse(url) -> SmtpTarget``; ``mask(url)`` is the only form of the URL that may be logged.

- ``smtp://[user:pass@]host[:port]``           plain SMTP (port 25); AUTH only if a user is given
- ``smtp+starttls://[user:pass@]host[:port]``  STARTTLS required (port 587); a server that does
                                               not offer it is an error, never a plain fallback
- ``smtps://[user:pass@]host[:port]``          TLS from the first byte (port 465)

User and password are percent-decoded (``p%40ss`` is ``p@ss``). The only query parameter is
``cafile=/path/ca.pem``: trust that CA instead of the system's (private relays, tests).
Certificates and host names are always verified for TLS schemes. A bad URL raises
``ValueError`` whose message never contains the password.
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

MODES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


@dataclass(frozen=True)
class SmtpTarget:
    mode: str                 # plain | starttls | tls
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None

    @property
    def display(self) -> str:
        """``scheme://user:***@host:port``: what logs and errors may show."""
        scheme = {v[0]: k for k, v in MODES.items()}[self.mode]
        who = f"{self.username}:***@" if self.username else ""
        return f"{scheme}://{who}{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)


def parse(url: str) -> SmtpTarget:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        # urlsplit's own message may quote the URL, password included.
        raise ValueError(f"not a valid SMTP URL: {mask(url)}") from None
    scheme = parts.scheme.lower()
    if scheme not in MODES:
        raise ValueError(f"scheme must be one of {', '.join(MODES)}: {mask(url)}")
    if not parts.hostname:
        raise ValueError(f"no host in SMTP URL: {mask(url)}")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"unexpected path in SMTP URL: {mask(url)}")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"cafile"}
    if unknown:
        raise ValueError(f"unknown SMTP URL parameter(s) {sorted(unknown)}: {mask(url)}")
    cafile = query["cafile"][-1] if "cafile" in query else None
    mode, default_port = MODES[scheme]
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ValueError(f"password without user in SMTP URL: {mask(url)}")
    return SmtpTarget(mode=mode, host=parts.hostname, port=port or default_port,
                      username=username, password=password, cafile=cafile or None)


def mask(url: str) -> str:
    """The URL with any password replaced by ``***`` (also for URLs that do not parse)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***" if "@" in url else url
    # Over-masking beats leaking: a password may hold an unescaped "/", "?" or "#", so the
    # userinfo is taken to end at the last "@" anywhere.
    at = rest.rfind("@")
    if at == -1:
        return url
    user, colon, _ = rest[:at].partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{rest[at + 1:]}"
