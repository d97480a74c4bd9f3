"""A private, real Asterisk for the real-switch tier.

``Asterisk(run_dir, engines=[...]).start()`` writes a minimal configuration into
``run_dir/etc`` (``asterisk.conf`` with every directory under ``run_dir``, only the
modules the engine needs, AMI on a free loopback port with a random secret,
``timestampevents`` so that every AMI event carries the switch's clock), starts the
binary in the foreground (``-f``, so the pid is the child's) and waits until it is
fully booted and AMI answers. ``stop()`` ends it by that pid, never by name.

The dialplan is the project's own: ``extensions.conf`` here ``#include``s
``dialplan/asterisk/extensions.conf`` of the repository by its absolute path (the file a
user installs, not a copy) and sets its engine address globals (CALLFLOW_ENGINE_1/2) to
the engine's private FastAGI port, appending to its ``[globals]`` with ``(+)``. The far
ends (targets.conf) are a context of their own that the engine reaches through its dial
template ``Local/{digits}@targets``; the caller's side runs a context of its own too.

The binary: CALLFLOW_TEST_ASTERISK, else /opt/asterisk/sbin/asterisk.
"""
from __future__ import annotations

import math
import os
import secrets
import signal
import struct
import subprocess
import time
import wave
from pathlib import Path

from tests.helpers.engine_proc import REPO, free_port
from tests.switch.asterisk.ami_client import AmiClient

HERE = Path(__file__).resolve().parent
DEFAULT_BINARY = "/opt/asterisk/sbin/asterisk"
INSTALL_HINT = (
    "no Asterisk binary: set CALLFLOW_TEST_ASTERISK to the asterisk executable, or install "
    "one at /opt/asterisk (Debian 12: `xargs -a asterisk-runtime-packages.txt apt-get install -y` "
    "then `tar -xzf asterisk-22.10.1-debian12-amd64.tar.gz -C /`, as .ci/run does)")
DIALPLAN = REPO / "dialplan" / "asterisk" / "extensions.conf"
ENTRY_CONTEXT = "callflow-in"     # the context of the project's dialplan a trunk sends DIDs to

MODULES = (
    "res_timing_timerfd", "res_speech", "res_agi", "pbx_config",
    "bridge_simple", "bridge_softmix", "bridge_holding", "bridge_builtin_features",
    "chan_bridge_media",
    "codec_ulaw", "codec_alaw", "codec_a_mu", "codec_resample",
    "format_wav", "format_pcm", "format_sln",
    "app_dial", "app_playback", "app_record", "app_mixmonitor", "app_verbose", "app_stack",
    "app_exec", "app_userevent", "app_softhangup",
    "func_callerid", "func_channel", "func_strings", "func_logic", "func_global",
    "func_hangupcause", "func_dialplan",
)

# Sounds the switch itself needs: RECORD FILE's and the engine's beep (core sound `beep`).
BEEP_SECONDS = 0.25


def binary() -> str | None:
    path = os.environ.get("CALLFLOW_TEST_ASTERISK") or DEFAULT_BINARY
    return path if os.access(path, os.X_OK) else None


def write_tone(path: Path, seconds: float, freq: float = 440.0, rate: int = 8000) -> Path:
    """An 8 kHz mono 16-bit WAV tone (freq 0: digital silence)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
                      for i in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


class Asterisk:
    """One private Asterisk process. ``engines``: the host:port list the dialplan's
    CALLFLOW_ENGINE_1/_2 point at (one engine: both are it)."""

    def __init__(self, run_dir: Path, engines: list[str], options: dict[str, str] | None = None):
        self.binary = binary()
        self.options = dict(options or {})      # more asterisk.conf [options], e.g. systemname
        if self.binary is None:
            raise RuntimeError(INSTALL_HINT)
        self.dir = Path(run_dir).resolve()
        self.engines = list(engines)
        self.ami_port = free_port()
        self.ami_user = "callflowtest"
        self.ami_secret = secrets.token_hex(8)
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None
        for sub in ("etc", "cache", "varlib", "data/sounds/en", "agi-bin", "spool", "run", "log",
                    "sounds"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)

    @property
    def conf(self) -> Path:
        return self.dir / "etc" / "asterisk.conf"

    @property
    def log_path(self) -> Path:
        return self.dir / "log" / "full"

    @property
    def sounds(self) -> Path:
        """Where the caller's and the far ends' audio lives (absolute Playback paths)."""
        return self.dir / "sounds"

    # -- configuration ------------------------------------------------------------------
    def _globals(self) -> str:
        a, b = (self.engines + self.engines)[:2]
        return f"[globals](+)\nCALLFLOW_ENGINE_1={a}\nCALLFLOW_ENGINE_2={b}\n"

    def write_conf(self) -> None:
        d, etc = self.dir, self.dir / "etc"
        etc.joinpath("asterisk.conf").write_text(f"""[directories]
astcachedir => {d}/cache
astetcdir => {etc}
astmoddir => {Path(self.binary).resolve().parents[1] / 'lib' / 'asterisk' / 'modules'}
astvarlibdir => {d}/varlib
astdbdir => {d}/varlib
astkeydir => {d}/varlib
astdatadir => {d}/data
astagidir => {d}/agi-bin
astspooldir => {d}/spool
astrundir => {d}/run
astlogdir => {d}/log
astsbindir => {Path(self.binary).resolve().parent}

[options]
verbose = 3
debug = 0
nocolor = yes
dumpcore = no
documentation_language = en_US
hideconnect = yes
""" + "".join(f"{k} = {v}\n" for k, v in self.options.items()))
        loads = "\n".join(f"load => {m}.so" for m in MODULES)
        etc.joinpath("modules.conf").write_text(f"[modules]\nautoload = no\n{loads}\n")
        etc.joinpath("logger.conf").write_text(
            "[general]\ndateformat = %F %T.%3q\n[logfiles]\n"
            "full => notice,warning,error,verbose,debug\n")
        etc.joinpath("manager.conf").write_text(f"""[general]
enabled = yes
port = {self.ami_port}
bindaddr = 127.0.0.1
displayconnects = no
timestampevents = yes

[{self.ami_user}]
secret = {self.ami_secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = all
write = all
writetimeout = 5000
""")
        etc.joinpath("indications.conf").write_text(
            "[general]\ncountry = us\n[us]\ndescription = US\nringcadence = 2000,4000\n"
            "ring = 440+480/2000,0/4000\nbusy = 480+620/500,0/500\n"
            "congestion = 480+620/250,0/250\n")
        etc.joinpath("callflow-globals.conf").write_text(self._globals())
        targets = (HERE / "targets.conf").read_text().replace("@SOUNDS@", str(self.sounds))
        etc.joinpath("targets.conf").write_text(targets)
        # The user's extensions.conf: the project's file included by absolute path, then
        # its engine globals pointed at this session's engine, then the test contexts.
        etc.joinpath("extensions.conf").write_text(f"""[general]
static = yes
writeprotect = yes
autofallthrough = yes

#include "{DIALPLAN}"
#include "callflow-globals.conf"
#include "targets.conf"
""")
        # Stasis refuses to start without the XML documentation of the installed tree.
        docs = d / "data" / "documentation"
        installed = Path(self.binary).resolve().parents[1] / "var" / "lib" / "asterisk" / "documentation"
        if not docs.exists() and installed.is_dir():
            docs.symlink_to(installed)
        for name, text in (("stasis.conf", "[threadpool]\n"), ("cdr.conf", "[general]\nenable = no\n"),
                           ("cel.conf", "[general]\nenable = no\n")):
            etc.joinpath(name).write_text(text)
        write_tone(d / "data" / "sounds" / "en" / "beep.wav", BEEP_SECONDS, 1000)
        for seconds in (1, 2, 3, 5, 6, 10, 30):
            write_tone(self.sounds / f"tone{seconds}s.wav", seconds, 440)     # far ends talk
            write_tone(self.sounds / f"voice{seconds}s.wav", seconds, 350)    # the caller talks
        write_tone(self.sounds / "quiet30s.wav", 30, 0)                       # silent frames

    def set_engines(self, engines: list[str]) -> None:
        """Point the dialplan at other engines: rewrite the globals, ``dialplan reload``."""
        self.engines = list(engines)
        (self.dir / "etc" / "callflow-globals.conf").write_text(self._globals())
        out = self.cli("dialplan reload")
        assert "Dialplan reloaded" in out, out
        a, b = (self.engines + self.engines)[:2]
        with self.ami() as ami:
            for name, value in (("CALLFLOW_ENGINE_1", a), ("CALLFLOW_ENGINE_2", b)):
                got = ami.action("Getvar", Variable=name)
                assert got.get("Value") == value, (name, got)

    # -- process ------------------------------------------------------------------------
    def cli(self, command: str, timeout: float = 10.0) -> str:
        done = subprocess.run([self.binary, "-C", str(self.conf), "-rx", command],
                              capture_output=True, text=True, timeout=timeout)
        return done.stdout + done.stderr

    def start(self, timeout: float = 30.0) -> "Asterisk":
        self.write_conf()
        self._console = open(self.dir / "log" / "console.log", "ab")
        # -f: stay in the foreground (the pid is the child's); -n: no colours; no -c: no
        # console on stdin.
        self.proc = subprocess.Popen([self.binary, "-C", str(self.conf), "-f", "-n", "-vvv"],
                                     stdin=subprocess.DEVNULL, stdout=self._console,
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        (self.dir / "run" / "test-asterisk.pid").write_text(f"{self.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Asterisk exited {self.proc.returncode}:\n{self.log_tail()}")
            if "fully booted" in self.cli("core waitfullybooted", timeout=5).lower() or \
                    "Asterisk has fully booted" in self.cli("core show uptime", timeout=5):
                try:
                    with self.ami(timeout=2) as ami:
                        if ami.action("Ping").get("Response") == "Success":
                            return self
                except OSError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Asterisk did not become ready; log:\n{self.log_tail()}")

    def ami(self, timeout: float = 10.0, events: bool = False) -> AmiClient:
        return AmiClient("127.0.0.1", self.ami_port, self.ami_user, self.ami_secret,
                         timeout=timeout, events=events)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM by pid (Asterisk shuts down at once), SIGKILL if it lingers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        self._console.close()

    def log_tail(self, size: int = 20000) -> str:
        parts = []
        for path in (self.log_path, self.dir / "log" / "console.log"):
            if path.exists():
                parts.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-size:])
        return "\n".join(parts) or "(no log)"
