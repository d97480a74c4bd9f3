"""Shared fixtures of the deployment tests: the compose file as `docker-compose config`
resolves it with docker/.env.example, and FreeSWITCH's configuration as the image's
preprocessor would read it."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.fsxml import Preprocessor

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
OVERLAY = DOCKER / "freeswitch"
DIALPLAN = REPO / "dialplan"

# Where compose.yaml mounts the overlay and the dialplan inside the FreeSWITCH container.
FS_MOUNTS = {"/etc/callflow-freeswitch": OVERLAY, "/etc/callflow-dialplan": DIALPLAN}

INSTALL_HINT = ("docker-compose is not installed. Install Debian's package: "
                "`apt-get update && apt-get install -y docker-compose` "
                "(.ci/run does this on CI).")


def docker_compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return path


def read_env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value
    return out


def compose_config(env_file: Path = ENV_EXAMPLE, extra_args=()) -> subprocess.CompletedProcess:
    """`docker-compose -f docker/compose.yaml --env-file ENV config`, in an environment
    without the caller's variables (the shell's would win over the env file)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([docker_compose(), "-f", str(COMPOSE), "--env-file", str(env_file),
                           "config", *extra_args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def ports(service: dict) -> list[dict]:
    """`config` prints a port as a mapping, or as "ip:published:target/proto" when it
    has a host address: both as mappings."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, str):
            spec, _, protocol = port.partition("/")
            parts = spec.split(":")
            host_ip = parts[0] if len(parts) == 3 else None
            out.append({"host_ip": host_ip, "published": int(parts[-2]), "target": int(parts[-1]),
                        "protocol": protocol or "tcp"})
        else:
            out.append(port)
    return out


@pytest.fixture(scope="session")
def example_env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="session")
def config() -> dict:
    done = compose_config()
    assert done.returncode == 0, f"docker-compose config failed:\n{done.stderr}"
    return yaml.safe_load(done.stdout)


@pytest.fixture(scope="session")
def services(config) -> dict:
    return config["services"]


def freeswitch_document(env: dict[str, str]) -> tuple[str, Preprocessor]:
    """What FreeSWITCH reads: vars.xml (ours; vanilla's comes first in the image), then
    the configuration files of the overlay and the public context, preprocessed with the
    FreeSWITCH container's environment."""
    pre = Preprocessor(env=env, mounts=FS_MOUNTS)
    parts = ['<document type="freeswitch/xml">', pre.file(OVERLAY / "vars.xml"),
             '<section name="configuration">']
    for name in ("modules.conf.xml", "switch.conf.xml", "event_socket.conf.xml"):
        parts.append(pre.file(OVERLAY / "autoload_configs" / name))
    parts += ["</section>", '<section name="dialplan">',
              pre.file(OVERLAY / "dialplan" / "public.xml"), "</section>", "</document>"]
    return "\n".join(parts), pre
