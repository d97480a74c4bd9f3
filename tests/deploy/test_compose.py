"""docker/compose.yaml, as `docker-compose config` resolves it with docker/.env.example.

Checked here: the file is valid for docker-compose, the services and their health
checks, the event socket is not published and has a real password, secrets come from the
env file, FreeSWITCH and the engines share their folders at the same paths, and every
engine gets a complete, valid set of CALLFLOW_* settings. Nothing is built or started:
there is no Docker engine on the machines that run these tests.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from engine.settings import Settings
from tests.deploy.conftest import COMPOSE, compose_config, ports
from tests.helpers.engine_proc import free_port

ENGINES = ("engine-a", "engine-b")
SERVICES = {"freeswitch", "redis", *ENGINES, "api", "mailpit"}
SHARED = {"media": "/var/lib/callflow/media", "recordings": "/var/lib/callflow/recordings",
          "voicemail": "/var/lib/callflow/voicemail"}
SECRETS = ("FREESWITCH_ESL_PASSWORD", "REDIS_PASSWORD")

# Settings whose defaults suit a developer's machine only: a deployment must set them.
REQUIRED_ENGINE_SETTINGS = {
    "CALLFLOW_RULES", "CALLFLOW_LISTEN", "CALLFLOW_HTTP_LISTEN", "CALLFLOW_MEDIA_DIR",
    "CALLFLOW_RECORDINGS_DIR", "CALLFLOW_VOICEMAIL_DIR", "CALLFLOW_SPOOL_DIR",
    "CALLFLOW_SMTP_URL", "CALLFLOW_MAIL_FROM", "CALLFLOW_DIAL_E164_TEMPLATE",
    "CALLFLOW_DIAL_SIP_TEMPLATE", "CALLFLOW_ALLOWED_PREFIXES", "CALLFLOW_MAX_CALLS",
    "CALLFLOW_DRAIN_SECONDS", "CALLFLOW_LOG_FORMAT",
}


def volumes(service: dict) -> dict[str, tuple[str, str]]:
    """target -> (source, mode) of a service's volumes in `config` output."""
    out = {}
    for spec in service.get("volumes", []):
        parts = spec.split(":")
        source, target = parts[0], parts[1]
        out[target] = (source, parts[2] if len(parts) > 2 else "rw")
    return out


def seconds(duration: str) -> float:
    total = 0.0
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)", str(duration)):
        total += float(value) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    return total


def test_docker_compose_config_passes():
    done = compose_config(extra_args=["-q"])
    assert done.returncode == 0, done.stderr


def test_secrets_are_required_from_the_env_file(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    done = compose_config(env_file=empty, extra_args=["-q"])
    assert done.returncode != 0
    assert "in docker/.env" in done.stderr


def test_no_secret_is_written_in_the_compose_file(example_env):
    text = COMPOSE.read_text()
    for name in SECRETS:
        assert example_env[name] not in text
        assert "${" + name in text
    assert "ClueCon" not in text
    for name in SECRETS:
        assert example_env[name].startswith("replace-with-"), "keep placeholders in .env.example"


def test_services_and_health_checks(services):
    assert set(services) == SERVICES
    for name, svc in services.items():
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert svc.get("restart") == "unless-stopped", name


def test_images_are_pinned(services):
    for name, svc in services.items():
        image = svc["image"]
        repo, _, tag = image.partition("@")[0].rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: {image} is not pinned by tag"
    assert services["freeswitch"]["image"].startswith("safarov/freeswitch:1.10.")


def test_event_socket_port_is_not_published(services):
    for name, svc in services.items():
        for port in ports(svc):
            assert 8021 not in (port.get("target"), port.get("published")), f"{name} publishes 8021"
            assert port.get("target") not in (8084, 8090), f"{name} publishes an engine port"
    assert services["freeswitch"]["environment"]["FREESWITCH_ESL_PASSWORD"] not in ("", "ClueCon")


def test_backend_network_is_internal(config, services):
    assert config["networks"]["backend"]["internal"] is True
    for name in ("redis", *ENGINES):
        assert list(services[name]["networks"]) == ["backend"], name
        assert not services[name].get("ports"), f"{name} must not publish ports"
    subnet = config["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    assert subnet in services["freeswitch"]["environment"]["FREESWITCH_ESL_ACL"].split(",")


def test_freeswitch_and_engines_share_folders_at_the_same_paths(services):
    fs = volumes(services["freeswitch"])
    for name in ENGINES:
        eng = volumes(services[name])
        env = services[name]["environment"]
        for volume, path in SHARED.items():
            assert fs[path][0] == volume and eng[path][0] == volume, (name, path)
            assert fs[path][1] == "rw" and eng[path][1] == "rw"
            setting = {"media": "CALLFLOW_MEDIA_DIR", "recordings": "CALLFLOW_RECORDINGS_DIR",
                       "voicemail": "CALLFLOW_VOICEMAIL_DIR"}[volume]
            assert env[setting] == path
        assert eng[env["CALLFLOW_SPOOL_DIR"]][0] == "spool"
    assert fs["/etc/callflow-freeswitch"][1] == "ro" and fs["/etc/callflow-dialplan"][1] == "ro"
    assert Path(fs["/etc/callflow-dialplan"][0]).resolve() == (COMPOSE.parents[1] / "dialplan").resolve()


@pytest.mark.parametrize("name", ENGINES)
def test_engine_environment_is_complete_and_valid(services, name, example_env):
    env = {k: str(v) for k, v in services[name]["environment"].items()}
    missing = REQUIRED_ENGINE_SETTINGS - set(env)
    assert not missing, f"{name} lacks {sorted(missing)}"
    unknown = {k for k in env if k.startswith("CALLFLOW_")} - {
        "CALLFLOW_" + f.upper() for f in Settings.model_fields}
    assert not unknown, f"{name} sets what engine.settings.Settings does not know: {unknown}"
    settings = Settings(**{k.removeprefix("CALLFLOW_").lower(): v for k, v in env.items()})
    assert settings.listen_address == ("0.0.0.0", 8084)
    assert settings.http_address == ("0.0.0.0", 8090)
    assert settings.rules == f"redis://:{example_env['REDIS_PASSWORD']}@redis:6379/0"
    assert settings.smtp_url == "smtp://mailpit:1025"
    assert settings.allowed_prefixes, "engines must run with a destination allow-list"
    assert settings.log_format == "json"
    # docker stop waits stop_grace_period, then kills: the drain must fit in it.
    grace = seconds(services[name]["stop_grace_period"])
    assert grace > settings.drain_seconds + 10, (grace, settings.drain_seconds)
    assert services[name]["init"] is True


def test_engines_differ_only_by_name(services):
    a, b = (dict(services[n]) for n in ENGINES)
    assert a == b


def test_freeswitch_waits_for_the_engines(services):
    deps = services["freeswitch"]["depends_on"]
    assert all(deps[n]["condition"] == "service_healthy" for n in ENGINES)
    assert services["freeswitch"]["entrypoint"][-1] == "/etc/callflow-freeswitch/entrypoint.sh"


def test_api_service(services, example_env):
    api = services["api"]
    assert api["command"] == ["callflow", "api"]
    env = api["environment"]
    assert env["CALLFLOW_RULES"].startswith("redis://:") and env["CALLFLOW_API_LISTEN"] == "0.0.0.0:8000"
    assert env["CALLFLOW_API_TOKENS_FILE"] == "/etc/callflow/tokens.yaml"
    assert volumes(api)["/etc/callflow/tokens.yaml"][1] == "ro"
    assert [(p["host_ip"], p["published"]) for p in ports(api)] == [("127.0.0.1", 8000)]
    assert [(p["host_ip"], p["published"]) for p in ports(services["mailpit"])] == [("127.0.0.1", 8025)]
    assert api["image"] == services["engine-a"]["image"]


def test_redis_has_password_and_persistence(services):
    redis = services["redis"]
    script = redis["command"][-1]
    assert "requirepass" in script and "--appendonly yes" in script
    assert volumes(redis)["/data"][0] == "redis-data"
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])


# -- the Redis command and health check, run against a real redis-server ------------------

@pytest.fixture
def redis_wrappers(tmp_path):
    """redis-server / redis-cli on PATH that add a private port and folder to the
    arguments compose gives them."""
    real_server, real_cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if not real_server or not real_cli:
        pytest.fail("redis-server is not installed: `apt-get install -y redis-server` "
                    "(.ci/run does this on CI)", pytrace=False)
    port = free_port()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    (bin_dir / "redis-server").write_text(
        f'#!/bin/sh\nexec {real_server} "$@" --port {port} --bind 127.0.0.1 --dir {data}\n')
    (bin_dir / "redis-cli").write_text(f'#!/bin/sh\nexec {real_cli} -p {port} "$@"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return bin_dir, port, data


def test_redis_command_requires_the_password_and_persists(services, redis_wrappers):
    bin_dir, port, data = redis_wrappers
    redis = services["redis"]
    script = redis["command"][-1].replace("$$", "$")          # compose's escaping
    password = "0123456789abcdef0123456789abcdef"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "REDIS_PASSWORD": password}
    proc = subprocess.Popen(["sh", "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        health = redis["healthcheck"]["test"][1].replace("$$", "$")
        deadline = time.monotonic() + 10
        while subprocess.run(["sh", "-c", health], env=env).returncode != 0:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "redis never became healthy"
            time.sleep(0.1)
        cli = [str(bin_dir / "redis-cli")]
        no_auth = subprocess.run(cli + ["ping"], capture_output=True, text=True, env={"PATH": env["PATH"]})
        assert "NOAUTH" in no_auth.stdout + no_auth.stderr
        auth_env = {"PATH": env["PATH"], "REDISCLI_AUTH": password}
        out = subprocess.run(cli + ["config", "get", "appendonly"], capture_output=True, text=True,
                             env=auth_env).stdout.split()
        assert out == ["appendonly", "yes"]
        with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
            assert password.encode() not in f.read()           # not on the command line
        proc.send_signal(signal.SIGTERM)                       # redis-server is PID of `sh -c`
        assert proc.wait(10) == 0
        assert any(data.rglob("*.aof")) or (data / "appendonlydir").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_redis_command_refuses_the_placeholder(services, redis_wrappers):
    bin_dir, _, _ = redis_wrappers
    script = services["redis"]["command"][-1].replace("$$", "$")
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10,
                          env={"PATH": f"{bin_dir}:{os.environ['PATH']}",
                               "REDIS_PASSWORD": "replace-with-openssl-rand-hex-32-redis"})
    assert done.returncode == 1 and "set REDIS_PASSWORD" in done.stderr
