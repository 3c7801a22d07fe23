"""Task time-to-live: a job not started within its ttl is expired by the claim instead of run.

The claim script (lua/lib/claim.lua) compares the job hash's ``expireAt`` (epoch ms, the TypeScript
taskora's field) with its clock. ``on_expire="fail"`` (the default) keeps the job in the ``expired``
state (``result()`` raises ExpiredError); ``"discard"`` deletes it. The choice travels on the job as
the additive field ``onExpire`` (written only for ``discard``), so any Python worker applies it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .durations import to_ms
from .errors import ConfigurationError, reject_unknown

ON_EXPIRE = ("fail", "discard")


@dataclass(frozen=True)
class TtlPolicy:
    """``ttl={"max": "1h", "on_expire": "fail" | "discard"}``, read once at declaration or dispatch."""

    max_ms: int
    on_expire: str = "fail"


def parse_ttl(value: Any, where: str) -> TtlPolicy:
    """Read a ttl given as a duration ("30m", seconds) or ``{"max": ..., "on_expire": ...}``."""
    if isinstance(value, TtlPolicy):
        return value
    if isinstance(value, Mapping):
        reject_unknown(f"{where}.ttl", value, {"max", "on_expire"})
        if value.get("max") is None:
            raise ConfigurationError(f"{where}: ttl needs 'max' (a duration such as '1h'), got {dict(value)}")
        return TtlPolicy(_max_ms(value["max"], where), _on_expire(value.get("on_expire", "fail"), where))
    return TtlPolicy(_max_ms(value, where))


def _max_ms(value: Any, where: str) -> int:
    max_ms = to_ms(value, name=f"{where}: ttl.max")
    if max_ms <= 0:
        raise ConfigurationError(f"{where}: ttl.max must be more than 0, got {value!r}")
    return max_ms


def _on_expire(value: Any, where: str) -> str:
    if value not in ON_EXPIRE:
        raise ConfigurationError(f"{where}: ttl.on_expire must be one of {', '.join(ON_EXPIRE)}, got {value!r}")
    return str(value)


def job_expiry(given: Any, default: TtlPolicy | None, start_ms: Callable[[], int],
               where: str) -> tuple[int, dict[str, str]]:  # fmt: skip
    """The job's ``expireAt`` (0: none) and the fields the claim reads, from the dispatch's ``ttl``
    (a duration or a dict; its on_expire defaults to the task's) over the task's ``ttl``."""
    policy = default
    if given is not None:
        policy = parse_ttl(given, where)
        if default is not None and not (isinstance(given, Mapping) and "on_expire" in given):
            policy = TtlPolicy(policy.max_ms, default.on_expire)
    if policy is None:
        return 0, {}
    fields = {"onExpire": "discard"} if policy.on_expire == "discard" else {}
    return start_ms() + policy.max_ms, fields
