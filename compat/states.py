"""Celery's task state names, state sets and state precedence (``celery.states``).

Result objects, the worker and user code compare states as plain strings (``res.state == SUCCESS``),
so every constant is the same ``str`` Celery uses. Custom states (``update_state(state="PROGRESS")``)
are allowed anywhere a state is: they just belong to none of the sets below.

Precedence exists because a result backend may see states out of order (a late ``STARTED`` after
``SUCCESS``); the higher-precedence state must win. ``state`` wraps a name so ``>``/``<`` compare by
that precedence rather than alphabetically.
"""

from __future__ import annotations

__all__ = [
    "PENDING",
    "RECEIVED",
    "STARTED",
    "SUCCESS",
    "FAILURE",
    "REVOKED",
    "REJECTED",
    "RETRY",
    "IGNORED",
    "READY_STATES",
    "UNREADY_STATES",
    "EXCEPTION_STATES",
    "PROPAGATE_STATES",
    "ALL_STATES",
    "PRECEDENCE",
    "PRECEDENCE_LOOKUP",
    "NONE_PRECEDENCE",
    "precedence",
    "state",
]

#: Unknown id, not yet run, forgotten, expired or ignored result: there is no "unknown" state.
PENDING = "PENDING"
#: The worker received the message (events only).
RECEIVED = "RECEIVED"
#: Execution began (stored only with ``track_started``).
STARTED = "STARTED"
#: The task returned; ``result`` is the return value.
SUCCESS = "SUCCESS"
#: The task raised; ``result`` is the exception.
FAILURE = "FAILURE"
#: Revoked or expired before it ran.
REVOKED = "REVOKED"
#: The message was rejected (``Reject``), events only.
REJECTED = "REJECTED"
#: Waiting for another attempt; ``result`` is the exception that caused the retry.
RETRY = "RETRY"
#: The task raised ``Ignore``; nothing is stored.
IGNORED = "IGNORED"

#: States after which the result will not change any more.
READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED})
#: States a result may still leave.
UNREADY_STATES = frozenset({PENDING, RECEIVED, STARTED, REJECTED, RETRY})
#: States whose ``result`` is an exception instance.
EXCEPTION_STATES = frozenset({RETRY, FAILURE, REVOKED})
#: States whose exception ``AsyncResult.get()`` re-raises.
PROPAGATE_STATES = frozenset({FAILURE, REVOKED})
#: The states a result backend stores (REJECTED and IGNORED are never stored).
ALL_STATES = frozenset({PENDING, RECEIVED, STARTED, SUCCESS, FAILURE, RETRY, REVOKED})

#: Highest precedence first; ``None`` is the slot of every custom state.
PRECEDENCE: tuple[str | None, ...] = (
    SUCCESS,
    FAILURE,
    None,
    REVOKED,
    STARTED,
    RECEIVED,
    REJECTED,
    RETRY,
    PENDING,
)
#: State name -> precedence index (lower index = higher precedence).
PRECEDENCE_LOOKUP: dict[str | None, int] = {name: index for index, name in enumerate(PRECEDENCE)}
#: Index shared by all custom (unknown) states.
NONE_PRECEDENCE = PRECEDENCE_LOOKUP[None]


def precedence(state: str | None) -> int:
    """Return the precedence index of ``state``; a lower number means a stronger state.

    Custom states all share ``NONE_PRECEDENCE`` (between FAILURE and REVOKED), so a custom progress
    state outranks STARTED but never overrides a final SUCCESS or FAILURE.
    """
    return PRECEDENCE_LOOKUP.get(state, NONE_PRECEDENCE)


class state(str):
    """A state name whose comparison operators follow precedence instead of string order.

    ``state(SUCCESS) > state(PENDING)`` is True; equality stays plain string equality so a ``state``
    still equals the bare constant.
    """

    __slots__ = ()

    def __gt__(self, other: str) -> bool:
        return precedence(self) < precedence(other)

    def __ge__(self, other: str) -> bool:
        return precedence(self) <= precedence(other)

    def __lt__(self, other: str) -> bool:
        return precedence(self) > precedence(other)

    def __le__(self, other: str) -> bool:
        return precedence(self) >= precedence(other)

    # str defines __eq__; defining the orderings does not touch hashing, but be explicit about it.
    __hash__ = str.__hash__
