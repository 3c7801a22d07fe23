"""Pure value handling: durations, the JSON serializer, ids."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest

from taskora import ConfigurationError, SerializationError
from taskora.durations import to_ms, to_seconds
from taskora.ids import lock_token, random_uuid
from taskora.serialization import JsonSerializer, get_serializer


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(5, 5.0), (0.25, 0.25), ("500ms", 0.5), ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0),
     (timedelta(minutes=1, seconds=30), 90.0), ("1.5s", 1.5), ("45", 45.0)],
)
def test_durations_are_seconds(value, seconds) -> None:
    assert to_seconds(value) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "-1s", -3, True, None, "1y", float("inf")])
def test_bad_durations_name_the_option(bad) -> None:
    with pytest.raises(ConfigurationError, match="my_option"):
        to_seconds(bad, name="my_option")


def test_durations_go_to_the_wire_in_ms() -> None:
    assert to_ms("1.5s") == 1500


def test_plain_json_stays_plain_for_other_runtimes() -> None:
    assert JsonSerializer().dumps({"x": 1, "y": [1, 2]}) == '{"x":1,"y":[1,2]}'


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32-be"])
def test_json_reads_stored_bytes_in_any_json_encoding(encoding) -> None:
    text = JsonSerializer().dumps({"name": "café", "when": (1, 2)})
    assert JsonSerializer().loads(text.encode(encoding)) == {"name": "café", "when": (1, 2)}


def test_job_ids_are_version_4_uuids_and_tokens_128_random_bits() -> None:
    ids = {random_uuid() for _ in range(2000)}
    assert len(ids) == 2000
    for text in list(ids)[:200]:
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)
    tokens = {lock_token() for _ in range(2000)}
    assert len(tokens) == 2000 and all(len(t) == 32 and int(t, 16) >= 0 for t in tokens)


def test_json_refuses_what_it_cannot_carry() -> None:
    with pytest.raises(SerializationError, match="JSON"):
        JsonSerializer().dumps({"f": lambda: 1})


def test_json_names_a_value_that_contains_itself() -> None:
    looped: dict = {"name": "a"}
    looped["self"] = looped
    with pytest.raises(SerializationError, match="contains itself"):
        JsonSerializer().dumps(looped)
    listed: list = [1]
    listed.append(listed)
    with pytest.raises(SerializationError, match="contains itself"):
        JsonSerializer().dumps(listed)


def test_json_encodes_a_value_once_fixed_after_it_failed() -> None:
    """The encoder is reused per thread; a failure part-way must not leave it thinking the containers it
    was in are still being encoded (it would then call them circular the next time)."""
    serializer, record = JsonSerializer(), {"k": [1, 2]}
    record["bad"] = object()
    with pytest.raises(SerializationError, match="not JSON serializable"):
        serializer.dumps({"record": record})
    del record["bad"]
    assert serializer.dumps({"record": record}) == '{"record":{"k":[1,2]}}'


def test_json_encodes_one_value_in_many_threads_at_once() -> None:
    """Each thread has its own encoder: the Decimals run Python code mid-encode, where threads switch."""
    shared = {"rows": [{"n": i, "at": Decimal(i), "tags": ["a", "b"]} for i in range(200)]}
    expected = JsonSerializer().dumps(shared)
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: JsonSerializer().dumps(shared), range(400))) == {expected}


def test_kombu_serializers_by_name() -> None:
    pickle = get_serializer("pickle", allow_pickle=True)
    assert pickle.loads(pickle.dumps({"a": {1, 2}})) == {"a": {1, 2}}
    with pytest.raises(ConfigurationError, match="nope"):
        get_serializer("nope")


def test_job_ids_ignore_the_applications_random_seed_and_differ_in_a_forked_child() -> None:
    """Ids come from a private generator reseeded on fork: two processes never draw the same sequence."""
    import random as stdlib_random

    stdlib_random.seed(7)
    first = random_uuid()
    stdlib_random.seed(7)
    assert random_uuid() != first
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child writes its next id and leaves at once
        os.write(write, random_uuid().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child_id = os.read(read, 64).decode()
    os.close(read)
    assert uuid.UUID(child_id).version == 4
    assert child_id != random_uuid()
