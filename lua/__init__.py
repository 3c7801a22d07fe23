"""The engine's Lua scripts, shipped as package data: one file per job transition.

A script may pull shared helpers in with a line ``--@include lib/<name>``; ``load`` inlines them, so
Redis receives one self-contained script (Redis scripts share no scope) while the source keeps a
single copy of each helper.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_INCLUDE = re.compile(r"^--@include (lib/[a-z_]+)\s*$", re.MULTILINE)


def _read(relative: str) -> str:
    path = resources.files(__name__).joinpath(relative)
    if not path.is_file():
        raise FileNotFoundError(f"taskora engine script {relative!r} is not installed")
    return path.read_text(encoding="utf-8")


@cache
def load(name: str) -> str:
    """Return the full text of script ``name`` with its includes inlined (a helper may include another;
    each is inlined once, where it is first included)."""
    return _inline(_read(f"{name}.lua"), set())


def _inline(text: str, seen: set[str]) -> str:
    def one(match: re.Match[str]) -> str:
        helper = match.group(1)
        if helper in seen:
            return ""
        seen.add(helper)
        return _inline(_read(f"{helper}.lua").rstrip("\n"), seen)

    return _INCLUDE.sub(one, text)


def names() -> list[str]:
    """Every script (not helper) shipped with this version, sorted."""
    return sorted(p.name[:-4] for p in resources.files(__name__).iterdir() if p.name.endswith(".lua"))


_PER_CALL = re.compile(r"^--@per-call\n(.*?)^--@end-per-call\n", re.MULTILINE | re.DOTALL)


@cache
def library(name: str) -> tuple[str, dict[str, str]]:
    """The engine as one Redis function library (``FUNCTION LOAD``): its text, and each script's function name.

    A script run by ``EVALSHA`` defines every helper it includes again on each call (Lua makes a closure per
    ``local function`` it executes). In a library the helpers are defined once, when it loads; what a helper
    file computes per call (the keys and clock it reads from ``KEYS``/``ARGV``, the state a claim keeps while
    it runs) sits between ``--@per-call`` and ``--@end-per-call``, and each script's function runs the blocks
    its ``EVALSHA`` text would run, in the same order, before its own body. ``KEYS`` and ``ARGV`` are the
    library's locals, set at the start of each call: Redis runs one function at a time, so no call sees another's.
    """
    scripts = names()
    every_include = "".join(m.group(0) + "\n" for s in scripts for m in _INCLUDE.finditer(_read(f"{s}.lua")))
    shared = _PER_CALL.sub("", _inline(every_include, set()))
    functions = {script: f"{name}_{script}" for script in scripts}
    registrations = "".join(_registration(functions[script], script) for script in scripts)
    ready = (f"redis.register_function{{function_name='{name}_ready', callback=function() return 1 end, "
             "flags={'no-writes'}}\n")  # may this client FCALL? (no-writes: answered at maxmemory too)
    return f"#!lua name={name}\nlocal KEYS, ARGV\n{shared}\n{registrations}{ready}", functions


def _registration(function: str, script: str) -> str:
    per_call = "".join(m.group(1) for m in _PER_CALL.finditer(load(script)))
    body = _INCLUDE.sub("", _read(f"{script}.lua"))
    start = f"redis.register_function('{function}', function(call_keys, call_args)\nKEYS, ARGV = call_keys, call_args\n"
    return f"{start}{per_call}{body}\nend)\n"
