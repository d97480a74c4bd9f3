"""Loading configurations: file, text or mapping in; RuleSet or ConfigError out.

Contract:

* ``load_file(path, allowed_prefixes=())``, ``load_text(text, allowed_prefixes=())`` and
  ``load_mapping(data, allowed_prefixes=())`` return a ``RuleSet`` or raise ``ConfigError``
  carrying *every* problem found, each as ``(path, message)`` with paths such as
  ``numbers.+551140040000.forwarding[1].ring_seconds``. Unreadable files and YAML/JSON
  syntax errors (with line and column) are ``ConfigError`` too. Text starting with ``{`` is
  read as JSON, anything else as YAML; duplicate keys are refused in both.
  ``load_mapping(..., configs={})`` also fills ``configs`` with each number's validated
  model (E.164 -> ``NumberConfig``), for callers that store them (``rules.stored``)
  without validating everything a second time.
* ``read_file(path)`` returns a file's parsed content without validating it (stores use
  it to keep each number's entry as written), with the same ``ConfigError`` for
  unreadable files and syntax errors.
* ``compile_number(e164, data, defaults=None, allowed_prefixes=())`` validates and compiles
  one number's entry (the object a store keeps under its E.164 key) on its own, with error
  paths rooted at ``numbers.<e164>``.
* ``compile_entry(e164, raw, defaults, allowed_prefixes)`` does the same from the JSON
  text a store keeps (not JSON, or a key not in E.164: ``ConfigError`` too).
* ``load_defaults(data)`` validates a ``defaults`` block.

``allowed_prefixes`` is the deployment's toll-fraud policy (see ``rules.destinations``);
it is never read from the customer's file.
"""
from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable
from typing import Any

import yaml
from pydantic import ValidationError

from rules.compiled import CompiledNumber, compile_config
from rules.errors import ConfigError
from rules.models import Defaults, NumberConfig, ValidationContext
from rules.numbers import NumberError, normalise_number
from rules.ruleset import RuleSet

__all__ = ["load_file", "load_text", "load_mapping", "compile_number", "compile_entry",
           "load_defaults", "read_file"]

_TOP_KEYS = ("defaults", "numbers")
_VALIDATE = NumberConfig.__pydantic_validator__.validate_python

# Pydantic's own wording ("Input should be a valid integer") is written for programmers.
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown key",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping (key: value)",
    "model_type": "must be a mapping (key: value)",
    "model_attributes_type": "must be a mapping (key: value)",
    "too_short": "must not be empty",
    "frozen_instance": "cannot be changed",
}


def _message(err: dict) -> str:
    kind = err["type"]
    if kind == "value_error":
        return str(err["ctx"]["error"])
    if kind == "literal_error":
        return f"must be {err['ctx']['expected']}"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    msg = err["msg"]
    return msg[:1].lower() + msg[1:]


def _path(root: str, loc: Iterable[Any], raw: Any) -> str:
    parts = [root] if root else []
    node = raw
    for seg in loc:
        if isinstance(seg, int):
            # A single value written where a list is allowed was wrapped in a list by the
            # model; point at what the user wrote, not at a [0] they never typed.
            if seg == 0 and not isinstance(node, list):
                continue
            if not parts:
                parts.append("")
            parts[-1] += f"[{seg}]"
            node = node[seg] if isinstance(node, list) and seg < len(node) else None
        else:
            parts.append(str(seg))
            node = node.get(seg) if isinstance(node, dict) else None
    return ".".join(parts)


def _errors(exc: ValidationError, root: str, raw: Any) -> list[tuple[str, str]]:
    return [(_path(root, e["loc"], raw), _message(e)) for e in exc.errors(include_url=False)]


def load_defaults(data: Any) -> Defaults:
    if data is None:
        return Defaults()
    try:
        return Defaults.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_errors(exc, "defaults", data)) from None


def _compile(e164: str, data: Any, defaults: Defaults, ctx: ValidationContext,
             configs: dict[str, NumberConfig] | None = None,
             ) -> tuple[CompiledNumber | None, list[tuple[str, str]]]:
    root = f"numbers.{e164}"
    if data is None:
        data = {}  # `"+551140040000":` with nothing under it: a number with no features
    try:
        # The schema validator itself: model_validate's Python wrapper costs about a
        # microsecond per call, 0.1 s per 100k numbers, for nothing we use.
        config = _VALIDATE(data, context=ctx)
    except ValidationError as exc:
        return None, _errors(exc, root, data)
    compiled, errors = compile_config(e164, config, defaults, root)
    if configs is not None and not errors:
        configs[e164] = config
    return (None if errors else compiled), errors


def compile_number(e164: str, data: Any, defaults: Defaults | None = None,
                   allowed_prefixes: tuple[str, ...] = ()) -> CompiledNumber:
    defaults = defaults if defaults is not None else Defaults()
    try:
        key = normalise_number(e164, defaults.region)
    except NumberError as exc:
        raise ConfigError([(f"numbers.{e164}", str(exc))]) from None
    compiled, errors = _compile(key, data, defaults,
                                ValidationContext(defaults.region, tuple(allowed_prefixes)))
    if errors:
        raise ConfigError(errors)
    return compiled


def load_mapping(data: Any, allowed_prefixes: tuple[str, ...] = (),
                 configs: dict[str, NumberConfig] | None = None) -> RuleSet:
    # Compiling allocates millions of small objects that all stay alive; the cyclic
    # collector would rescan the growing heap again and again (loading 100k numbers took
    # twice as long). Nothing built here forms cycles that need collecting.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_mapping(data, allowed_prefixes, configs)
    finally:
        if enabled:
            gc.enable()


def _load_mapping(data: Any, allowed_prefixes: tuple[str, ...],
                  configs: dict[str, NumberConfig] | None) -> RuleSet:
    if not isinstance(data, dict):
        raise ConfigError([("", "the configuration must be a mapping with a 'numbers' key")])
    errors: list[tuple[str, str]] = [(str(k), "unknown key") for k in data if k not in _TOP_KEYS]
    defaults = Defaults()
    region_ok = True
    try:
        defaults = load_defaults(data.get("defaults"))
    except ConfigError as exc:
        errors += exc.errors
        region_ok = all(p != "defaults.region" for p, _ in exc.errors)
        raw = data.get("defaults")
        if region_ok and isinstance(raw, dict):
            # Keep checking the numbers with the region that was fine; a bad time zone
            # or unknown key in defaults does not make them wrong.
            defaults = Defaults(region=raw.get("region"))
    numbers = data.get("numbers", ...)
    if numbers is ...:
        errors.append(("numbers", "is required"))
        numbers = {}
    elif numbers is None:
        numbers = {}
    elif not isinstance(numbers, dict):
        errors.append(("numbers", "must be a mapping of phone number to its configuration"))
        numbers = {}
    if not region_ok:
        # Every number written in national notation would be refused for a reason the
        # user has already been told about; say it once.
        raise ConfigError(errors)

    ctx = ValidationContext(defaults.region, tuple(allowed_prefixes))
    compiled: dict[str, CompiledNumber] = {}
    written: dict[str, str] = {}
    for key, value in numbers.items():
        if not isinstance(key, str):
            errors.append((f"numbers.{key}", "write the number as a quoted string "
                           f"(YAML read it as {type(key).__name__})"))
            continue
        try:
            e164 = normalise_number(key, defaults.region)
        except NumberError as exc:
            errors.append((f"numbers.{key}", str(exc)))
            continue
        if e164 in written:
            errors.append((f"numbers.{e164}", f"written twice: {written[e164]!r} and {key!r} "
                           f"are the same number"))
            continue
        written[e164] = key
        number, problems = _compile(e164, value, defaults, ctx, configs)
        if problems:
            errors += problems
        else:
            compiled[e164] = number
    if errors:
        raise ConfigError(errors)
    return RuleSet(compiled, defaults, tuple(allowed_prefixes))


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe YAML loader that refuses duplicate keys instead of keeping the last one."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable key: let the base class give its error
            if duplicate:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"key {k!r} appears twice")
        out[k] = v
    return out


def _parse(text: str, source: str) -> Any:
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            raise ConfigError([("", f"{source}: line {exc.lineno}, column {exc.colno}: "
                                    f"invalid JSON: {exc.msg}")]) from None
        except ValueError as exc:
            raise ConfigError([("", f"{source}: invalid JSON: {exc}")]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = exc.problem or exc.context or "not valid YAML"
        raise ConfigError([("", f"{source}: {where}invalid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([("", f"{source}: invalid YAML: {exc}")]) from None


def load_text(text: str, allowed_prefixes: tuple[str, ...] = (), source: str = "<text>") -> RuleSet:
    data = _parse(text, source)
    if data is None:
        raise ConfigError([("", f"{source}: the configuration is empty")])
    return load_mapping(data, allowed_prefixes)


def read_file(path: str | os.PathLike) -> Any:
    """The parsed, not yet validated content of a configuration file (what
    ``load_mapping`` takes); ``ConfigError`` if it is unreadable, empty or not YAML/JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError([("", f"{path}: cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([("", f"{path}: not UTF-8 text")]) from None
    data = _parse(text, str(path))
    if data is None:
        raise ConfigError([("", f"{path}: the configuration is empty")])
    return data


def load_file(path: str | os.PathLike, allowed_prefixes: tuple[str, ...] = ()) -> RuleSet:
    data = read_file(path)
    try:
        return load_mapping(data, allowed_prefixes)
    finally:
        # Number by number: freeing a parsed 100,000-number document in one go is
        # ~0.25 s in which no other thread runs (an engine reloads its file off its
        # event loop, engine.service); a Python loop lets the interpreter switch threads.
        numbers = data.get("numbers") if isinstance(data, dict) else None
        if isinstance(numbers, dict):
            while numbers:
                numbers.popitem()


def compile_entry(e164: str, raw: str, defaults: Defaults,
                  allowed_prefixes: tuple[str, ...] = ()) -> CompiledNumber:
    """Validate and compile one stored entry (the JSON a store keeps under its E.164 key)
    exactly as a file's, except that it must be a JSON object; ConfigError if refused."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigError([(f"numbers.{e164}", f"stored entry is not valid JSON: {exc}")]) from None
    if not isinstance(data, dict):
        # In a file, a number with nothing under it is a number with no features; a
        # stored entry is written whole by a program, so a null or a list is a broken
        # writer, and applying it would wipe the number's working configuration.
        raise ConfigError([(f"numbers.{e164}", f"stored entry must be a JSON object "
                                               f"({{}} for a number with no features), "
                                               f"not {type(data).__name__ if data is not None else 'null'}")])
    compiled = compile_number(e164, data, defaults, allowed_prefixes)
    if compiled.number != e164:
        raise ConfigError([(f"numbers.{e164}", f"the key must be written in E.164 "
                                               f"({compiled.number})")])
    return compiled
