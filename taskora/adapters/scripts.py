"""Runs the engine's scripts by SHA, loading them on NOSCRIPT (a restarted or failed-over Redis)."""

from __future__ import annotations

import hashlib
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

import taskora.lua as engine

from ..errors import from_engine_reply


class Script:
    """One engine script: its text, its SHA1 for EVALSHA, and a NOSCRIPT-safe call."""

    __slots__ = ("name", "text", "sha")

    def __init__(self, name: str) -> None:
        self.name = name
        self.text = engine.load(name)
        self.sha = hashlib.sha1(self.text.encode("utf-8")).hexdigest()

    def __call__(self, client: Any, keys: list[str], args: list[Any]) -> Any:
        # A NOSCRIPT reply means the script did not run, so loading it and sending again is safe.
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.text)
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except ResponseError as exc:
            raise from_engine_reply(str(exc)) from exc

    def queue_in(self, pipe: Any, keys: list[str], args: list[Any]) -> None:
        """Queue a raw EVALSHA on a pipeline (the caller preloads with ``ScriptSet.load_all``)."""
        pipe.evalsha(self.sha, len(keys), *keys, *args)


class ScriptSet:
    """All engine scripts, by name, as attributes (``scripts.claim(client, keys, args)``)."""

    def __init__(self) -> None:
        self.by_name = {name: Script(name) for name in engine.names()}
        for name, script in self.by_name.items():
            setattr(self, name, script)

    def load_all(self, client: Any) -> None:
        for script in self.by_name.values():
            client.script_load(script.text)

    def __getattr__(self, name: str) -> Script:  # only reached for a script that does not exist
        raise AttributeError(f"no engine script named {name!r}; have {sorted(self.by_name)}")
