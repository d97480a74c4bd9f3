"""A real SMTP server for tests: aiosmtpd's Controller on a loopback port, in this process.

``SmtpServer(port=None, **smtp_kwargs)``: ``start()`` / ``stop()`` (restartable on the same
port, for outage tests), ``messages()`` parsed with the default email policy,
``envelopes`` as received, ``wait_for(n)``. Behaviour switches: ``data_replies`` (a list of
replies consumed one per DATA, e.g. ``["451 4.3.0 try later"]``; empty: accept),
``rcpt_replies`` (address -> reply, every time), ``auth`` ((user, password) required).
``tls_pair(tmp)`` makes a self-signed certificate for 127.0.0.1 with ``cryptography``.
"""
from __future__ import annotations

import email
import email.policy
import ssl
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.helpers.engine_proc import free_port


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.server.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.server.lock:
            self.server.data_calls += 1
            if self.server.data_replies:
                return self.server.data_replies.pop(0)
            self.server.envelopes.append(envelope)
        return "250 2.0.0 queued"


class SmtpServer:
    def __init__(self, port: int | None = None, auth: tuple[str, str] | None = None, **smtp_kwargs):
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.envelopes = []
        self.data_replies: list[str] = []
        self.rcpt_replies: dict[str, str] = {}
        self.data_calls = 0
        self.logins: list[tuple[str, str]] = []
        self.auth = auth
        self.smtp_kwargs = smtp_kwargs
        self.controller = None

    def _authenticator(self, server, session, envelope, mechanism, auth_data):
        user = auth_data.login.decode()
        password = auth_data.password.decode()
        self.logins.append((user, password))
        ok = (user, password) == self.auth
        # handled=False: aiosmtpd then sends the 535 reply itself.
        return AuthResult(success=ok, handled=ok)

    def start(self) -> "SmtpServer":
        kw = dict(self.smtp_kwargs)
        if self.auth:
            kw.update(authenticator=self._authenticator, auth_required=True)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kw)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return [email.message_from_bytes(e.content, policy=email.policy.default)
                    for e in self.envelopes]

    def wait_for(self, n: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.envelopes) >= n:
                return self.messages()
            time.sleep(0.02)
        raise AssertionError(f"expected {n} message(s), got {len(self.envelopes)}")


def tls_pair(folder: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem): self-signed, valid for IP 127.0.0.1 and localhost."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "callflow test SMTP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx
