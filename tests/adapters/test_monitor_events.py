"""The monitor event stream (adapters/monitor_events.py): appended, bounded, read from a pinned end."""

from __future__ import annotations

import json


def test_events_after_the_pinned_end_are_read_in_order(make_app):
    adapter = make_app().adapter
    key = adapter.monitor_events_key()
    adapter.publish_monitor_event(json.dumps({"type": "before"}))
    end = adapter.monitor_events_end()
    first = adapter.publish_monitor_event(json.dumps({"type": "a"}))
    adapter.publish_monitor_event(json.dumps({"type": "b"}))
    replies = adapter.read_events({key: end}, block_ms=100)
    entries = [entry for stream, found in replies for entry in found]
    assert [json.loads(fields[b"event"])["type"] for _id, fields in entries] == ["a", "b"]
    assert (entries[0][0].decode() if isinstance(entries[0][0], bytes) else entries[0][0]) == first


def test_an_empty_stream_ends_at_zero_and_a_long_one_is_trimmed(make_app):
    adapter = make_app().adapter
    assert adapter.monitor_events_end() == "0-0"
    for n in range(300):
        adapter.publish_monitor_event(json.dumps({"n": n}), maxlen=50)
    kept = adapter.read_events({adapter.monitor_events_key(): "0-0"}, block_ms=10, count=1000)[0][1]
    assert 50 <= len(kept) < 300  # MAXLEN ~ trims whole nodes: about the bound, never everything
    assert json.loads(kept[-1][1][b"event"]) == {"n": 299}


def test_a_stream_read_from_the_time_position_shows_only_what_came_after(make_app):
    from tests.waiting import wait_until

    adapter = make_app().adapter
    before = adapter.publish_monitor_event(json.dumps({"type": "before"}))
    before_ms = int(before.partition("-")[0])

    def later_position():
        position = adapter.stream_time_position()
        return position if int(position.partition("-")[0]) >= before_ms else None  # from the ms after "before"

    position = wait_until(later_position, 5, "Redis' clock to pass the first entry's millisecond")
    adapter.publish_monitor_event(json.dumps({"type": "after"}))
    entries = adapter.read_events({adapter.monitor_events_key(): position}, block_ms=100)[0][1]
    assert [json.loads(fields[b"event"])["type"] for _id, fields in entries] == ["after"]
