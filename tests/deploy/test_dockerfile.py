"""docker/Dockerfile: what the image is made of and how it runs. No Docker engine here,
so the image is not built; the checks are on the file, on the repository paths it copies,
and the HEALTHCHECK command is run against a real engine process."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib

from tests.deploy.conftest import DOCKER, REPO
from tests.engine.conftest import E2E_RULES, MEDIA
from tests.helpers.engine_proc import EngineProcess

DOCKERFILE = DOCKER / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        current += " " + stripped.rstrip("\\").strip() if current else stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            word, _, rest = current.partition(" ")
            out.append((word.upper(), rest.strip()))
            current = ""
    return out


def final_stage() -> list[tuple[str, str]]:
    inst = instructions()
    last_from = max(i for i, (w, _) in enumerate(inst) if w == "FROM")
    return inst[last_from:]


def healthcheck_command() -> list[str]:
    [args] = [a for w, a in final_stage() if w == "HEALTHCHECK"]
    return json.loads(args[args.index("CMD") + 3:].strip())


def test_base_image_is_python_311_slim_bookworm():
    args = [a for w, a in instructions() if w == "ARG" and a.startswith("PYTHON_IMAGE=")]
    assert args == ["PYTHON_IMAGE=python:3.11-slim-bookworm"]
    froms = [a for w, a in instructions() if w == "FROM"]
    assert froms and all(f.startswith("${PYTHON_IMAGE}") for f in froms)


def test_runs_as_a_non_root_user():
    users = [a for w, a in final_stage() if w == "USER"]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users
    assert re.search(r"useradd .*--uid 10001 .*callflow", DOCKERFILE.read_text().replace("\\\n", " "))


def test_installs_the_package_with_its_pinned_dependencies():
    text = " ".join(a for w, a in instructions() if w == "RUN")
    assert "pip install ." in text
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert deps and all("==" in d for d in deps), "pyproject.toml dependencies must stay pinned"


def test_copied_paths_exist_and_are_not_ignored():
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    for w, a in instructions():
        if w == "COPY" and "--from=" not in a:
            sources = [s for s in a.split()[:-1] if not s.startswith("--")]
            for src in sources:
                assert (REPO / src).exists(), src
                assert f"!{src.rstrip('/')}" in ignore or f"!{src.rstrip('/')}/" in ignore, src


def test_every_package_is_found_by_setuptools():
    # pyproject: packages.find include engine*, rules*; a folder without __init__.py
    # would be left out of the image silently.
    for top in ("engine", "rules"):
        for folder in [REPO / top, *(p for p in (REPO / top).rglob("*") if p.is_dir())]:
            if folder.name == "__pycache__" or not any(folder.glob("*.py")):
                continue
            assert (folder / "__init__.py").exists(), f"{folder.relative_to(REPO)} is not a package"


def test_volumes_cmd_and_healthcheck():
    stage = final_stage()
    [volume] = [a for w, a in stage if w == "VOLUME"]
    for path in ("/var/lib/callflow/media", "/var/lib/callflow/recordings",
                 "/var/lib/callflow/voicemail", "/var/lib/callflow/spool"):
        assert f'"{path}"' in volume
    assert [a for w, a in stage if w == "CMD"] == ['["callflow", "serve"]']
    assert [a for w, a in stage if w == "STOPSIGNAL"] == ["SIGTERM"]
    cmd = healthcheck_command()
    assert cmd[:2] == ["python", "-c"] and "/health" in cmd[2] and "curl" not in cmd[2]
    env = " ".join(a for w, a in stage if w == "ENV")
    for setting in ("CALLFLOW_LISTEN=0.0.0.0:8084", "CALLFLOW_HTTP_LISTEN=0.0.0.0:8090",
                    "CALLFLOW_MEDIA_DIR=/var/lib/callflow/media"):
        assert setting in env


def run_check(command: list[str], engine: EngineProcess) -> int:
    env = {**os.environ, "CALLFLOW_HTTP_LISTEN": f"0.0.0.0:{engine.http_port}"}
    return subprocess.run([sys.executable, *command[1:]], env=env, timeout=10).returncode


def test_healthcheck_command_against_a_real_engine(tmp_path):
    engine = EngineProcess(tmp_path, E2E_RULES, media=MEDIA).start()
    try:
        command = healthcheck_command()
        assert run_check(command, engine) == 0                 # ready: 200
        engine.signal()                            # draining (503), then gone once idle
        assert run_check(command, engine) != 0
    finally:
        engine.stop()
    assert run_check(command, engine) != 0                     # gone
