"""A private, real FreeSWITCH for the real-switch tier.

``FreeSwitch(run_dir, engines=[...]).start()`` writes a minimal configuration into
``run_dir/conf`` (only the modules the engine needs, the inbound event socket on a
free loopback port with a random password), starts the binary with its own
``-conf -log -db -run`` folders and waits until ``api status`` says it is ready.
``stop()`` ends it by the pid it wrote, never by name.

The dialplan is the project's own: the ``public`` context includes
``dialplan/callflow.xml`` from the repository by its absolute path (the file a user
installs, not a copy), and the callflow variables are set exactly as
docker/freeswitch/vars.xml names them. The test far ends (farends.xml) are a context
of their own that the engine reaches through its dial templates.

The binary: CALLFLOW_TEST_FREESWITCH, else /opt/freeswitch/bin/freeswitch.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

from tests.helpers.engine_proc import REPO, free_port
from tests.switch.freeswitch.esl_client import InboundClient

HERE = Path(__file__).resolve().parent
DEFAULT_BINARY = "/opt/freeswitch/bin/freeswitch"
INSTALL_HINT = (
    "no FreeSWITCH binary: set CALLFLOW_TEST_FREESWITCH to the freeswitch executable, or install "
    "one at /opt/freeswitch (Debian 12: `xargs -a freeswitch-runtime-packages.txt apt-get install -y` "
    "then `tar -xzf freeswitch-1.11.1-debian12-amd64.tar.gz -C /`, as .ci/run does)")

MODULES = ("mod_console", "mod_logfile", "mod_event_socket", "mod_loopback", "mod_commands",
           "mod_dptools", "mod_dialplan_xml", "mod_sndfile", "mod_native_file", "mod_tone_stream")

# The fallback tone: what docker/freeswitch/vars.xml plays when no engine takes a call.
FALLBACK_AUDIO = "tone_stream://%(274,0,913.8);%(274,0,1370.6);%(380,0,1776.7)"


def binary() -> str | None:
    path = os.environ.get("CALLFLOW_TEST_FREESWITCH") or DEFAULT_BINARY
    return path if os.access(path, os.X_OK) else None


def _vars(engines: list[str], fallback_audio: str) -> str:
    a, b = (engines + engines)[:2] if engines else ("127.0.0.1:9", "127.0.0.1:9")
    return f"""<include>
  <X-PRE-PROCESS cmd="set" data="global_codec_prefs=PCMU,PCMA"/>
  <X-PRE-PROCESS cmd="set" data="domain=127.0.0.1"/>
  <X-PRE-PROCESS cmd="set" data="callflow_engine_a={a}"/>
  <X-PRE-PROCESS cmd="set" data="callflow_engine_b={b}"/>
  <X-PRE-PROCESS cmd="set" data="callflow_fallback=message"/>
  <X-PRE-PROCESS cmd="set" data="callflow_fallback_audio={fallback_audio}"/>
  <X-PRE-PROCESS cmd="set" data="callflow_fallback_endpoint=error/NO_ROUTE_DESTINATION"/>
  <X-PRE-PROCESS cmd="set" data="callflow_fallback_ring_seconds=5"/>
</include>
"""


def _settings(name: str, params: dict) -> str:
    lines = "\n".join(f'    <param name="{k}" value="{v}"/>' for k, v in params.items())
    return (f'<configuration name="{name}" description="{name}">\n  <settings>\n{lines}\n'
            '  </settings>\n</configuration>\n')


def _configs(esl_port: int, password: str, rtp_start: int) -> dict[str, str]:
    modules = "\n".join(f'    <load module="{m}"/>' for m in MODULES)
    return {
        "modules.conf.xml": f"""<configuration name="modules.conf" description="Modules">
  <modules>
{modules}
  </modules>
</configuration>
""",
        "event_socket.conf.xml": _settings("event_socket.conf", {
            "nat-map": "false", "listen-ip": "127.0.0.1", "listen-port": esl_port,
            "password": password, "apply-inbound-acl": "loopback.auto",
            "stop-on-bind-error": "true"}),
        # sessions-per-second: the load scenario offers 50 calls in 2 s, each four
        # sessions (the caller's loopback pair and a far end's).
        "switch.conf.xml": _settings("switch.conf", {
            "colorize-console": "false", "max-sessions": 2000, "sessions-per-second": 1000,
            "loglevel": "debug", "rtp-start-port": rtp_start, "rtp-end-port": rtp_start + 100}),
        "console.conf.xml": """<configuration name="console.conf" description="Console Logger">
  <mappings><map name="all" value="console,debug,info,notice,warning,err,crit,alert"/></mappings>
  <settings><param name="colorize" value="false"/><param name="loglevel" value="info"/></settings>
</configuration>
""",
        "logfile.conf.xml": """<configuration name="logfile.conf" description="File Logging">
  <settings><param name="rotate-on-hup" value="true"/></settings>
  <profiles><profile name="default">
    <settings><param name="rollover" value="104857600"/></settings>
    <mappings><map name="all" value="debug,info,notice,warning,err,crit,alert"/></mappings>
  </profile></profiles>
</configuration>
""",
    }


class FreeSwitch:
    """One private FreeSWITCH process. ``engines``: the host:port list the dialplan's
    callflow_engine_a/_b point at (one engine: both are it)."""

    def __init__(self, run_dir: Path, engines: list[str], fallback_audio: str = FALLBACK_AUDIO):
        self.binary = binary()
        if self.binary is None:
            raise RuntimeError(INSTALL_HINT)
        self.dir = Path(run_dir)
        self.engines = list(engines)
        self.fallback_audio = fallback_audio
        self.esl_port = free_port()
        self.password = secrets.token_hex(8)
        self.pid: int | None = None
        for sub in ("conf/autoload_configs", "conf/dialplan", "log", "db", "run"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)

    @property
    def log_path(self) -> Path:
        return self.dir / "log" / "freeswitch.log"

    def write_conf(self) -> None:
        conf = self.dir / "conf"
        (conf / "freeswitch.xml").write_text("""<?xml version="1.0"?>
<document type="freeswitch/xml">
  <X-PRE-PROCESS cmd="include" data="vars.xml"/>
  <section name="configuration" description="Various Configuration">
    <X-PRE-PROCESS cmd="include" data="autoload_configs/*.xml"/>
  </section>
  <section name="dialplan" description="Regex/XML Dialplan">
    <X-PRE-PROCESS cmd="include" data="dialplan/*.xml"/>
  </section>
</document>
""")
        (conf / "vars.xml").write_text(_vars(self.engines, self.fallback_audio))
        for name, text in _configs(self.esl_port, self.password, 20000 + self.esl_port % 20000).items():
            (conf / "autoload_configs" / name).write_text(text)
        # The project's dialplan, included where the carrier's calls land, exactly as
        # docker/freeswitch/dialplan/public.xml includes it.
        (conf / "dialplan" / "public.xml").write_text(f"""<include>
  <context name="public">
    <X-PRE-PROCESS cmd="include" data="{REPO / 'dialplan' / 'callflow.xml'}"/>
  </context>
</include>
""")
        (conf / "dialplan" / "farends.xml").write_text((HERE / "farends.xml").read_text())

    def set_engines(self, engines: list[str]) -> None:
        """Point the dialplan at other engines: rewrite vars.xml and ``reloadxml``."""
        self.engines = list(engines)
        (self.dir / "conf" / "vars.xml").write_text(_vars(self.engines, self.fallback_audio))
        with self.client() as c:
            reply = c.api("reloadxml")
            assert "+OK" in reply, reply

    def start(self, timeout: float = 30.0) -> "FreeSwitch":
        self.write_conf()
        d = self.dir
        # -nc: fork into the background and write run/freeswitch.pid (switches README).
        subprocess.run([self.binary, "-nc", "-nonat", "-nonatmap", "-conf", str(d / "conf"),
                        "-log", str(d / "log"), "-db", str(d / "db"), "-run", str(d / "run")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid_file = d / "run" / "freeswitch.pid"
            if self.pid is None and pid_file.exists() and pid_file.read_text().strip():
                self.pid = int(pid_file.read_text().strip())
            try:
                with self.client(timeout=2) as c:
                    if "is ready" in c.api("status"):
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"FreeSWITCH did not become ready; log:\n{self.log_tail()}")

    def client(self, timeout: float = 10.0) -> InboundClient:
        return InboundClient("127.0.0.1", self.esl_port, self.password, timeout=timeout)

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False

    def stop(self, timeout: float = 20.0) -> None:
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            self.pid = None
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.1)
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def log_tail(self, size: int = 20000) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_text(errors="replace")[-size:]
