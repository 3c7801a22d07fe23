"""``celery.utils.nodenames``, ``celery.utils.serialization`` and ``LimitedSet`` (pure helpers)."""

from __future__ import annotations

import os
import pickle
import socket
import threading

from taskora.compat.utils import nodenames
from taskora.compat.utils.collections import LimitedSet
from taskora.compat.utils.serialization import UnpickleableExceptionWrapper, get_pickleable_exception


def test_node_names_split_join_and_default():
    host = socket.gethostname()
    assert nodenames.nodename("w1", "box") == "w1@box"
    assert nodenames.nodesplit("w1@box.example") == ("w1", "box.example")
    assert nodenames.nodesplit("box") == (None, "box")
    assert nodenames.default_nodename("box") == "celery@box"
    assert nodenames.default_nodename("w1@") == f"w1@{host}"
    assert nodenames.default_nodename(None, "celerybeat") == f"celerybeat@{host}"
    assert nodenames.anon_nodename("box") == f"gen{os.getpid()}@box"
    assert nodenames.host_format("w-%n@%h (%d) 100%%", host="web1.example.com") == "w-web1@web1.example.com " \
        "(example.com) 100%"
    assert nodenames.node_format("%p/%n", "w1@h.x") == "w1@h.x/w1"


class HoldsALock(Exception):
    def __init__(self, message):
        super().__init__(message, threading.Lock())


def test_unpickleable_exception_wrapper_keeps_what_can_travel_and_restores_the_class():
    exc = HoldsALock("broken")
    wrapper = get_pickleable_exception(exc)
    assert isinstance(wrapper, UnpickleableExceptionWrapper)
    assert wrapper.exc_cls_name == "HoldsALock" and wrapper.exc_module == __name__
    assert wrapper.exc_args[0] == "broken" and isinstance(wrapper.exc_args[1], str)
    copy = pickle.loads(pickle.dumps(wrapper))
    assert copy.exc_cls_name == "HoldsALock"
    restored = UnpickleableExceptionWrapper(__name__, "ValueError", ("x",)).restore()
    assert type(restored).__name__ == "ValueError" and restored.args == ("x",)
    plain = ValueError("fine")
    assert get_pickleable_exception(plain) is plain


def test_limited_set_bounds_and_expires():
    bounded = LimitedSet(maxlen=2)
    for item in ("a", "b", "c"):
        bounded.add(item)
    assert list(bounded) == ["b", "c"] and "a" not in bounded
    expiring = LimitedSet(expires=10)
    expiring.add("old", now=100.0)
    expiring.add("new", now=200.0)
    expiring.purge(now=205.0)
    assert list(expiring) == ["new"] and set(expiring.as_dict()) == {"new"}
    expiring.discard("new")
    assert not expiring and expiring.pop() is None


def test_a_limited_set_takes_adds_from_many_threads_at_once():
    """A worker's slots add every job that succeeded to ``successful_requests`` from their own threads; past
    ``maxlen`` each add purges, walking the members. Unlocked, a walk that another thread changed raised
    RuntimeError ("OrderedDict mutated during iteration") in the job that had just succeeded."""
    import sys
    import threading

    members = LimitedSet(maxlen=50, expires=3600)
    errors: list[BaseException] = []

    def add_many(first: int) -> None:
        try:
            for i in range(first, first + 20_000):
                members.add(i)
        except BaseException as exc:  # noqa: BLE001 (what the test looks for)
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        threads = [threading.Thread(target=add_many, args=(k * 100_000,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == [] and len(members) == 50, (errors[:1], len(members))
