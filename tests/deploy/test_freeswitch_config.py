"""FreeSWITCH's configuration overlay (docker/freeswitch/) and the dialplan (dialplan/):
well-formed XML, as FreeSWITCH's preprocessor will read it, with the values the
deployment needs. Nothing here runs FreeSWITCH (see docs/operations.md)."""
from __future__ import annotations

import os
import re
import secrets
import stat
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.deploy.conftest import DIALPLAN, OVERLAY, REPO, freeswitch_document, ports
from tests.deploy.fsxml import comments, parse

XML_FILES = sorted([*OVERLAY.rglob("*.xml"), *OVERLAY.rglob("*.xml.example"), *DIALPLAN.rglob("*.xml")])
DEFAULT_ESL_PASSWORD = "ClueCon"


def fs_env(services) -> dict[str, str]:
    """The FreeSWITCH container's environment as compose passes it; the entrypoint
    unsets the empty ones before FreeSWITCH starts."""
    env = services["freeswitch"]["environment"]
    return {k: str(v) for k, v in env.items() if str(v) != ""}


@pytest.fixture(scope="module")
def document(services):
    text, pre = freeswitch_document(fs_env(services))
    return parse(text), pre


def params(root: ET.Element, config_name: str) -> list[tuple[str, str]]:
    conf = root.find(f".//configuration[@name='{config_name}']")
    assert conf is not None, f"{config_name} missing"
    return [(p.get("name"), p.get("value")) for p in conf.iter("param")]


def extension(root):
    ext = root.find(".//context[@name='public']/extension[@name='callflow']")
    assert ext is not None, "the public context has no callflow extension"
    return ext


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_file_is_well_formed_xml(path):
    ET.parse(path)


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_preprocessor_traps_in_comments(path):
    # FreeSWITCH runs preprocessor directives even inside comments, and drops any line
    # holding an include tag: either would silently change the configuration.
    for comment in comments(path.read_text()):
        assert not re.search(r"<X-PRE-PROCESS", comment, re.I), f"directive in a comment of {path}"
        assert "<include>" not in comment and "</include>" not in comment and "<?" not in comment


def test_whole_configuration_parses_after_preprocessing(document):
    root, pre = document
    assert root.tag == "document"
    assert pre.missing_includes == []
    used = {p.relative_to(REPO).as_posix() for p in pre.included}
    assert "dialplan/callflow.xml" in used and "dialplan/fallback/message.xml" in used


def test_event_socket_password_and_binding(document, services):
    root, _ = document
    p = params(root, "event_socket.conf")
    values = dict(p)
    password = services["freeswitch"]["environment"]["FREESWITCH_ESL_PASSWORD"]
    assert values["password"] == password
    assert values["password"] and values["password"] != DEFAULT_ESL_PASSWORD
    assert values["listen-port"] == "8021"
    assert values["stop-on-bind-error"] == "true"
    # mod_event_socket requires a client to pass EVERY apply-inbound-acl: exactly one.
    acls = [v for k, v in p if k == "apply-inbound-acl"]
    assert len(acls) == 1 and "127.0.0.0/8" in acls[0].split(",")
    for cidr in acls[0].split(","):
        assert re.fullmatch(r"[0-9a-fA-F.:]+/\d{1,3}", cidr), cidr


def test_event_socket_without_env_would_not_get_a_password(services):
    # An unset FREESWITCH_ESL_PASSWORD leaves the value empty, which mod_event_socket
    # turns into ClueCon: that is why compose (`:?`) and the entrypoint both refuse it.
    env = fs_env(services)
    env.pop("FREESWITCH_ESL_PASSWORD")
    text, _ = freeswitch_document(env)
    assert dict(params(parse(text), "event_socket.conf"))["password"] == ""


@pytest.mark.parametrize("with_env", [True, False], ids=["compose-env", "vars-defaults"])
def test_core_limits_are_raised(services, with_env):
    text, _ = freeswitch_document(fs_env(services) if with_env else {"FREESWITCH_ESL_PASSWORD": "x" * 16})
    values = dict(params(parse(text), "switch.conf"))
    assert int(values["max-sessions"]) > 1000          # vanilla default
    assert int(values["sessions-per-second"]) > 30     # vanilla default
    start, end = int(values["rtp-start-port"]), int(values["rtp-end-port"])
    assert 1024 < start < end <= 65535


def test_rtp_range_matches_what_compose_publishes(document, services):
    root, _ = document
    values = dict(params(root, "switch.conf"))
    published = {p["published"] for p in ports(services["freeswitch"]) if p["protocol"] == "udp"}
    assert set(range(int(values["rtp-start-port"]), int(values["rtp-end-port"]) + 1)) <= published


def test_modules(document):
    root, _ = document
    conf = root.find(".//configuration[@name='modules.conf']")
    loaded = [m.get("module") for m in conf.iter("load")]
    for module in ("mod_event_socket", "mod_sofia", "mod_dptools", "mod_sndfile", "mod_native_file",
                   "mod_tone_stream", "mod_commands", "mod_loopback", "mod_dialplan_xml"):
        assert module in loaded, module
    assert len(loaded) == len(set(loaded))


def actions(ext) -> list[tuple[str, str]]:
    return [(a.get("application"), a.get("data")) for a in ext.iter("action")]


def test_dialplan_hands_dids_to_both_engines_then_the_fallback(document, services):
    root, _ = document
    ext = extension(root)
    assert ext.get("continue") == "false"
    cond = ext.find("condition")
    assert cond.get("field") == "destination_number"
    did = re.compile(cond.get("expression"))
    for number in ("+551140040000", "551140040000", "40040000", "08001234567"):
        assert did.match(number), number
    for junk in ("abc", "+55 11", "123", "sip:x@y"):
        assert not did.match(junk), junk

    acts = actions(ext)
    apps = [a for a, _ in acts]
    sockets = [d for a, d in acts if a == "socket"]
    # The compose service names and the engines' CALLFLOW_LISTEN port.
    assert sockets == ["engine-a:8084 async full", "engine-b:8084 async full"]
    for name, data in zip(("engine-a", "engine-b"), sockets):
        port = services[name]["environment"]["CALLFLOW_LISTEN"].rpartition(":")[2]
        assert data.split()[0] == f"{name}:{port}"
    first_socket = apps.index("socket")
    set_vars = dict(d.split("=", 1) for a, d in acts[:first_socket] if a == "set")
    assert set_vars["socket_resume"] == "true"
    assert set_vars["bypass_media"] == "false"
    assert "answer" not in apps[:first_socket] and "pre_answer" not in apps[:first_socket]
    # Fallback "message": early media, the audio, then a hang-up cause the carrier can act on.
    after = acts[first_socket + 2:]
    assert [a for a, _ in after] == ["log", "pre_answer", "playback", "hangup"]
    assert after[2][1] == services["freeswitch"]["environment"]["FREESWITCH_FALLBACK_AUDIO"]
    assert after[3][1] == "NORMAL_TEMPORARY_FAILURE"


def test_dialplan_fallback_bridge_variant(services):
    env = fs_env(services) | {"FREESWITCH_FALLBACK": "bridge",
                              "FREESWITCH_FALLBACK_ENDPOINT": "sofia/gateway/default/+5511988887777"}
    text, pre = freeswitch_document(env)
    assert pre.missing_includes == []
    acts = actions(extension(parse(text)))
    after = acts[[a for a, _ in acts].index("socket") + 2:]
    assert [a for a, _ in after] == ["log", "set", "set", "bridge", "hangup"]
    assert after[3][1] == "{originate_timeout=30}sofia/gateway/default/+5511988887777"


def test_every_fallback_value_has_its_file():
    used = re.findall(r'fallback/\$\$\{(\w+)\}\.xml', (DIALPLAN / "callflow.xml").read_text())
    assert used == ["callflow_fallback"]
    assert {p.stem for p in (DIALPLAN / "fallback").glob("*.xml")} == {"message", "bridge"}


def test_variables_are_defined_in_one_place():
    """Every $${callflow_*} the dialplan and the overlay use is set in docker/freeswitch/vars.xml."""
    defined = set(re.findall(r'cmd="(?:env-)?set"\s+data="(\w+)=', (OVERLAY / "vars.xml").read_text()))
    for path in XML_FILES:
        if path.name == "vars.xml" or path.suffix == ".example":
            continue
        for name in re.findall(r"\$\$\{(\w+)\}", path.read_text()):
            if name.startswith("callflow_"):
                assert name in defined, f"{path.name} uses $${{{name}}} that vars.xml does not set"
    # The engines are set there and nowhere else.
    for path in DIALPLAN.rglob("*.xml"):
        assert "8084" not in path.read_text() and "127.0.0.1" not in path.read_text(), path


# -- the FreeSWITCH container's entrypoint, run outside the image -------------------------

def vanilla_tree(root: Path) -> Path:
    """A stand-in for the image's vanilla configuration (only the parts the entrypoint touches)."""
    v = root / "vanilla"
    for sub in ("autoload_configs", "dialplan/public", "sip_profiles/external", "directory"):
        (v / sub).mkdir(parents=True)
    (v / "freeswitch.xml").write_text("<document/>\n")
    (v / "vars.xml").write_text('<include>\n  <X-PRE-PROCESS cmd="set" data="default_password=1234"/>\n'
                                '  <X-PRE-PROCESS cmd="set" data="domain=$${local_ip_v4}"/>\n</include>\n')
    for name in ("modules.conf.xml", "switch.conf.xml", "event_socket.conf.xml", "sofia.conf.xml"):
        (v / "autoload_configs" / name).write_text("<configuration/>\n")
    (v / "dialplan" / "public.xml").write_text("<include/>\n")
    (v / "dialplan" / "public" / "00_inbound_did.xml").write_text("<include/>\n")
    for name in ("internal.xml", "internal-ipv6.xml", "external.xml", "external-ipv6.xml"):
        (v / "sip_profiles" / name).write_text("<include/>\n")
    return v


def run_entrypoint(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    fake = tmp_path / "image-entrypoint.sh"
    fake.write_text('#!/bin/sh\necho "image entrypoint ran: $*"\n')
    fake.chmod(0o755)
    full = {"PATH": os.environ["PATH"],
            "FS_ENTRYPOINT_OVERLAY": str(OVERLAY),
            "FS_ENTRYPOINT_VANILLA": str(vanilla_tree(tmp_path)),
            "FS_ENTRYPOINT_CONF": str(tmp_path / "etc-freeswitch"),
            "FS_ENTRYPOINT_CLI_CONF": str(tmp_path / "fs_cli.conf"),
            "FS_ENTRYPOINT_SHARED": str(tmp_path / "shared"),
            "FS_ENTRYPOINT_IMAGE_ENTRYPOINT": str(fake), **env}
    return subprocess.run(["sh", str(OVERLAY / "entrypoint.sh")], env=full,
                          capture_output=True, text=True, timeout=30)


def test_entrypoint_builds_the_configuration(tmp_path, services):
    password = secrets.token_hex(16)         # the example's placeholder is refused (below)
    done = run_entrypoint(tmp_path, fs_env(services) | {"FREESWITCH_ESL_PASSWORD": password})
    assert done.returncode == 0, done.stderr
    assert "image entrypoint ran" in done.stdout
    conf = tmp_path / "etc-freeswitch"
    for name in ("modules.conf.xml", "switch.conf.xml", "event_socket.conf.xml"):
        assert (conf / "autoload_configs" / name).read_text() == (OVERLAY / "autoload_configs" / name).read_text()
    assert (conf / "autoload_configs" / "sofia.conf.xml").exists()          # vanilla kept
    assert (conf / "dialplan" / "public.xml").read_text() == (OVERLAY / "dialplan" / "public.xml").read_text()
    assert not (conf / "dialplan" / "public").exists()
    assert sorted(p.name for p in (conf / "sip_profiles").glob("*.xml")) == ["external.xml"]
    vars_xml = (conf / "vars.xml").read_text()
    assert "default_password=1234" not in vars_xml
    assert re.search(r'default_password=[A-Za-z0-9]{24}"', vars_xml)
    assert vars_xml.rstrip().endswith(f'<X-PRE-PROCESS cmd="include" data="{OVERLAY}/vars.xml"/>\n</include>')
    ET.fromstring(vars_xml)
    cli = tmp_path / "fs_cli.conf"
    assert stat.S_IMODE(cli.stat().st_mode) == 0o600
    assert f"password => {password}" in cli.read_text()
    for sub in ("media", "recordings", "voicemail"):
        assert (tmp_path / "shared" / sub).is_dir()


@pytest.mark.parametrize("password, why", [
    (None, "is not set"),
    ("", "is not set"),
    ("ClueCon", "default"),
    ("replace-with-openssl-rand-hex-32-esl", "placeholder"),
    ("short1234", "at least 16"),
    ('abcdefghijklmnop"/>', "letters, digits"),
])
def test_entrypoint_refuses_a_weak_or_missing_esl_password(tmp_path, password, why):
    env = {} if password is None else {"FREESWITCH_ESL_PASSWORD": password}
    done = run_entrypoint(tmp_path, env)
    assert done.returncode != 0 and why in done.stderr
    assert "image entrypoint ran" not in done.stdout


def test_entrypoint_refuses_a_malformed_acl(tmp_path):
    done = run_entrypoint(tmp_path, {"FREESWITCH_ESL_PASSWORD": "a" * 32,
                                     "FREESWITCH_ESL_ACL": '0.0.0.0/0"/><param name="x'})
    assert done.returncode != 0 and "FREESWITCH_ESL_ACL" in done.stderr
