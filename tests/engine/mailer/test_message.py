"""The e-mail built from a job: Portuguese defaults, templates, safe headers, attachment."""
import email
import email.policy

import pytest

from engine.mailer import message as mail


def vm(**kw):
    out = dict(uuid="1f0c-uuid", number="+551140040004", caller="+5521977776666",
               caller_name="Maria", email=["ops@example.com"], path="/var/vm/1f0c-uuid.wav",
               seconds=65.4, local_time="2026-11-27T14:05:09-03:00")
    out.update(kw)
    return out


def build(v=None, audio=b"RIFF....WAVE", templates=None, **kw):
    return mail.build(v or vm(), job_id="1f0c-uuid", to=["ops@example.com", "b@example.com"],
                      mail_from="Callflow <voicemail@example.com>",
                      templates=templates or mail.Templates.load(), audio=audio, **kw)


def roundtrip(msg):
    return email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)


def test_default_message_is_portuguese_and_names_number_caller_time_duration():
    msg = roundtrip(build())
    assert msg["Subject"] == "Nova mensagem de voz para +55 11 4004-0004 de +55 21 97777-6666"
    assert msg["From"] == "Callflow <voicemail@example.com>"
    assert msg["To"] == "ops@example.com, b@example.com"
    assert msg["Message-ID"] == "<1f0c-uuid@example.com>"
    assert msg["Date"] == "Fri, 27 Nov 2026 14:05:09 -0300"
    assert msg["Auto-Submitted"] == "auto-generated"
    body = msg.get_body(("plain",)).get_content()
    for text in ("Número chamado: +55 11 4004-0004", "Quem ligou: +55 21 97777-6666",
                 "Nome informado pelo chamador: Maria", "27/11/2026 às 14:05 (UTC-03:00)",
                 "Duração: 1 min 05 s", "está anexado"):
        assert text in body
    (att,) = list(msg.iter_attachments())
    assert att.get_content_type() == "audio/wav"
    assert att.get_filename() == "correio-de-voz-551140040004-20261127-1405.wav"
    assert att.get_content() == b"RIFF....WAVE"


def test_anonymous_caller_without_name():
    msg = roundtrip(build(vm(caller="anonymous", caller_name=None, seconds=4)))
    assert msg["Subject"].endswith("de anônimo")
    body = msg.get_body(("plain",)).get_content()
    assert "Quem ligou: anônimo" in body and "pelo chamador: não informado" in body
    assert "Duração: 4 s" in body


@pytest.mark.parametrize("name", [
    "Evil\r\nBcc: victim@example.com", "Evil\nX-Injected: 1", "Evil\rSubject: hi",
    "João\u2028Bcc: v@example.com", "Ñandú \x00\x1b[31m", "=?utf-8?q?Bcc:_x@y.com?=",
])
def test_caller_name_cannot_inject_headers_even_through_a_subject_template(name, tmp_path):
    (tmp_path / "subject.txt").write_text("Recado de $caller_name para $number\n")
    templates = mail.Templates.load(tmp_path)
    raw = build(vm(caller_name=name), templates=templates).as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    names = [line.split(b":", 1)[0] for line in head.splitlines() if line[:1] not in (b" ", b"\t")]
    assert names == [b"From", b"To", b"Subject", b"Date", b"Message-ID", b"Auto-Submitted",
                     b"X-Callflow-Call-UUID", b"MIME-Version", b"Content-Type"]
    msg = roundtrip(build(vm(caller_name=name), templates=templates))
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    body = msg.get_body(("plain",)).get_content()
    line = next(l for l in body.splitlines() if l.startswith("Nome informado"))
    assert name.split()[0][:4].strip("\x00") in line


def test_non_ascii_name_is_readable_in_the_body():
    msg = roundtrip(build(vm(caller_name="José da Conceição – Ação Ltda.")))
    assert "José da Conceição – Ação Ltda." in msg.get_body(("plain",)).get_content()


def test_templates_from_a_folder_with_safe_substitution(tmp_path):
    (tmp_path / "subject.txt").write_text("VM $number_display em $date\n")
    (tmp_path / "body.txt").write_text("Ligação de $caller às $time, $duration. Custa $$5. $attachment_note\n")
    msg = roundtrip(build(templates=mail.Templates.load(tmp_path)))
    assert msg["Subject"] == "VM +55 11 4004-0004 em 27/11/2026"
    assert msg.get_body(("plain",)).get_content().startswith(
        "Ligação de +5521977776666 às 14:05, 1 min 05 s. Custa $5. O áudio")


def test_a_template_naming_an_unknown_placeholder_is_refused(tmp_path):
    (tmp_path / "body.txt").write_text("de $caler\n")
    with pytest.raises(ValueError, match="unknown placeholder.*caler"):
        mail.Templates.load(tmp_path)
    (tmp_path / "body.txt").write_text("custa $ 5\n")
    with pytest.raises(ValueError):
        mail.Templates.load(tmp_path)


def test_over_the_size_limit_no_attachment_and_the_body_says_where():
    assert mail.should_attach(10, 0) and mail.should_attach(10, 10) and not mail.should_attach(11, 10)
    msg = roundtrip(build(audio=None, size=3 * 1024 * 1024))
    assert list(msg.iter_attachments()) == []
    body = msg.get_body(("plain",)).get_content()
    assert "3,0 MB" in body and "/var/vm/1f0c-uuid.wav" in body


@pytest.mark.parametrize("bad", ["", "nobody", "a@b.com\r\nBcc: x@y.com", "x <not an address>"])
def test_mail_from_must_be_an_address(bad):
    with pytest.raises(ValueError):
        mail.sender_address(bad)


def test_recipients_are_revalidated():
    with pytest.raises(ValueError):
        mail.build(vm(), job_id="j", to=["ops@example.com>\r\nBcc: x@y.com"],
                   mail_from="voicemail@example.com", templates=mail.Templates.load(), audio=None)
