"""FreeSWITCH's XML preprocessor, as far as the deployment's files use it.

Mirrors src/switch_xml.c (preprocess, expand_vars, preprocess_glob) of FreeSWITCH
1.10/1.11 so that tests can check what FreeSWITCH will actually read:
- every line has its ``$${name}`` variables expanded first (an unknown one becomes "");
- a line that contains an include tag or ``<?`` is dropped whole;
- a line with ``<X-PRE-PROCESS cmd=... data=.../>`` runs the command, even inside an XML
  comment: ``set`` (NAME=VALUE), ``env-set`` (NAME=$ENV, only when ENV exists) and
  ``include`` (a glob, relative to the directory of the file that includes it);
- everything else is copied as is.
``mounts`` maps container paths (as the compose file mounts them) to repository folders.
"""
from __future__ import annotations

import glob
import re
import xml.etree.ElementTree as ET
from pathlib import Path

_VAR = re.compile(r"\$\$\{([^}]*)\}")
_PRE = re.compile(r'<X-PRE-PROCESS\s+cmd="([^"]*)"\s+data="([^"]*)"', re.IGNORECASE)


class Preprocessor:
    def __init__(self, env: dict[str, str] | None = None, mounts: dict[str, Path] | None = None):
        self.env = dict(env or {})
        self.mounts = {k.rstrip("/"): Path(v) for k, v in (mounts or {}).items()}
        self.vars: dict[str, str] = {}
        self.included: list[Path] = []
        self.missing_includes: list[str] = []

    def host_path(self, path: str) -> str:
        for prefix, host in sorted(self.mounts.items(), key=lambda kv: -len(kv[0])):
            if path == prefix or path.startswith(prefix + "/"):
                return str(host) + path[len(prefix):]
        return path

    def expand(self, line: str) -> str:
        return _VAR.sub(lambda m: self.vars.get(m.group(1), ""), line)

    def file(self, path: Path) -> str:
        path = Path(path)
        self.included.append(path)
        out = []
        for raw in path.read_text().splitlines():
            line = self.expand(raw)
            if "<include>" in raw or "</include>" in raw or "<?" in raw:
                continue
            m = _PRE.search(line)
            if m:
                self.command(m.group(1), m.group(2), path.parent, out)
                continue
            out.append(line)
        return "\n".join(out)

    def command(self, cmd: str, data: str, cwd: Path, out: list[str]) -> None:
        cmd = cmd.lower()
        if cmd == "set":
            name, _, value = data.partition("=")
            self.vars[name.strip()] = value.strip()
        elif cmd == "env-set":
            name, _, value = data.partition("=")
            if value.startswith("$") and value[1:] in self.env:
                self.vars[name] = self.env[value[1:]]
        elif cmd == "include":
            pattern = data if data.startswith("/") else f"{cwd.as_posix()}/{data}"
            matches = sorted(glob.glob(self.host_path(pattern)))
            if not matches:
                self.missing_includes.append(pattern)
            for match in matches:
                out.append(self.file(Path(match)))
        else:
            raise AssertionError(f"preprocessor command not modelled: {cmd}")


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def comments(text: str) -> list[str]:
    return re.findall(r"<!--(.*?)-->", text, re.S)
