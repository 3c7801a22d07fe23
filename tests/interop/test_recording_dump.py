"""The recordings' dump must not report a key in the millisecond it lapses as a key without a TTL: Redis
serves such a key with a PTTL of 0, and a wire test that waits for TTL keys to lapse would then compare a
key the TypeScript run saw go."""

from __future__ import annotations

from typing import Any

import redis

from tests.interop.recording import dump


class AtExpiry:
    """A real Redis client whose PTTL for ``key`` answers what Redis answers in that key's last millisecond."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self._client, self._key = client, key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def pttl(self, key: str) -> int:
        return 0 if key == self._key else int(self._client.pttl(key))


def test_a_key_in_its_last_millisecond_is_left_out_and_the_others_keep_their_ttl(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set("taskora:p:{t}:debounce:k1", "job", px=60_000)
    client.set("taskora:p:{t}:debounce:k2", "job", px=60_000)
    client.set("taskora:p:{t}:plain", "x")

    keyspace = dump(AtExpiry(client, "taskora:p:{t}:debounce:k1"), "p")

    assert sorted(keyspace) == ["taskora:p:{t}:debounce:k2", "taskora:p:{t}:plain"]
    assert 0 < keyspace["taskora:p:{t}:debounce:k2"]["pttl"] <= 60_000
    assert keyspace["taskora:p:{t}:plain"]["pttl"] == -1
