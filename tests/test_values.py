"""Pure value handling: durations and the JSON serializer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taskora import ConfigurationError, SerializationError
from taskora.durations import to_ms, to_seconds
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


def test_json_refuses_what_it_cannot_carry() -> None:
    with pytest.raises(SerializationError, match="JSON"):
        JsonSerializer().dumps({"f": lambda: 1})


def test_kombu_serializers_by_name() -> None:
    pickle = get_serializer("pickle")
    assert pickle.loads(pickle.dumps({"a": {1, 2}})) == {"a": {1, 2}}
    with pytest.raises(ConfigurationError, match="nope"):
        get_serializer("nope")
