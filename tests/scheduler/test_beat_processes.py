"""Real processes: three ``taskora beat -A tests.beat_app`` against one redis-server. A 1-second
schedule fires once per second (not three times); SIGKILLing the leader hands over within the lock
ttl and no run is doubled. Also the ``taskora schedules`` CLI against what the beats stored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis

from taskora.adapters.keys import Keys
from tests.paths import ROOT
from tests.waiting import wait_until

LOCK_TTL = 2.0
KEYS = Keys()


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "TASKORA_TEST_REDIS": url, "TASKORA_TEST_LOCK_TTL": str(LOCK_TTL), "PYTHONPATH": str(ROOT)}


@pytest.fixture
def beats(redis_url: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def kill_all() -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            if proc.stderr:
                proc.stderr.close()

    try:
        for _ in range(3):
            procs.append(subprocess.Popen([sys.executable, "-m", "taskora", "beat", "-A", "tests.beat_app"],
                                          cwd=ROOT, env=_env(redis_url), stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE))
        yield procs
    finally:
        kill_all()


_wait_for = wait_until


def _fire_times(client: redis.Redis) -> list[int]:
    """The scheduled time of every run of ``beat-tick`` ever enqueued (jobs stay waiting: no worker)."""
    ids = client.lrange(KEYS.state_set("beat-tick", "wait"), 0, -1)
    times = [client.hget(KEYS.job("beat-tick", i.decode()), "scheduledAt") for i in ids]
    return sorted(int(t) for t in times)


def _leader_pid(client: redis.Redis) -> int | None:
    token = client.get(KEYS.schedules_lock)
    return int(token.decode().split("@", 1)[0]) if token else None


def _assert_once_per_slot(times: list[int]) -> None:
    assert len(times) == len(set(times)), f"a run was doubled: {times}"
    gaps = {b - a for a, b in zip(times, times[1:], strict=False)}
    assert gaps and all(g % 1000 == 0 and g > 0 for g in gaps), f"runs off the 1 s grid: {times}"


def test_three_beats_fire_a_one_second_entry_once_per_second(beats: list, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    first_pid = _wait_for(lambda: _leader_pid(client), 20, "a leader")
    assert first_pid in {p.pid for p in beats}
    _wait_for(lambda: len(_fire_times(client)) >= 1, 10, "the first run")
    began, before = time.monotonic(), len(_fire_times(client))
    _wait_for(lambda: len(_fire_times(client)) >= before + 4, 10, "four more runs")
    elapsed = time.monotonic() - began
    fired = len(_fire_times(client)) - before
    assert fired <= elapsed + 1.5, f"{fired} runs in {elapsed:.1f}s: more than one per second"
    _assert_once_per_slot(_fire_times(client))

    # When: the leader is SIGKILLed (no clean release)
    leader = next(p for p in beats if p.pid == first_pid)
    leader.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    new_pid = _wait_for(lambda: (pid := _leader_pid(client)) not in (None, first_pid) and pid, 10, "a new leader")
    handover = time.monotonic() - killed_at
    # Then: another beat leads within the lock ttl (plus one poll interval), and runs go on once per slot
    assert new_pid in {p.pid for p in beats if p.poll() is None}
    assert handover < LOCK_TTL + 0.5, f"handover took {handover:.2f}s"
    count = len(_fire_times(client))
    _wait_for(lambda: len(_fire_times(client)) >= count + 3, 10, "runs after the handover")
    _assert_once_per_slot(_fire_times(client))

    # And: a clean stop of the new leader hands over at once (the lock is released)
    survivor = next(p for p in beats if p.pid == new_pid)
    survivor.send_signal(signal.SIGTERM)
    assert survivor.wait(10) == 0
    stopped_at = time.monotonic()
    _wait_for(lambda: (pid := _leader_pid(client)) not in (None, first_pid, new_pid) and pid, 5, "the last leader")
    assert time.monotonic() - stopped_at < 1.0


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "taskora", "schedules", *args, "-A", "tests.beat_app"],
                          cwd=ROOT, env=_env(url), capture_output=True, text=True, timeout=60)


def test_schedules_cli_lists_pauses_triggers_and_removes(beats: list, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    _wait_for(lambda: client.hexists(KEYS.schedules, "hourly-report"), 20, "the beats to store schedules")
    listed = _cli(redis_url, "list")
    assert listed.returncode == 0, listed.stderr
    assert "hourly-report" in listed.stdout and "cron 0 * * * * (Europe/Berlin)" in listed.stdout
    rows = {r["name"]: r for r in json.loads(_cli(redis_url, "list", "--json").stdout)}
    assert rows["hourly-report"]["nextRun"] % 3_600_000 == 0 and not rows["hourly-report"]["paused"]

    paused = json.loads(_cli(redis_url, "pause", "hourly-report", "--json").stdout)
    assert paused["paused"] is True and paused["nextRun"] is None
    assert "resumed hourly-report: next run" in _cli(redis_url, "resume", "hourly-report").stdout

    triggered = json.loads(_cli(redis_url, "trigger", "hourly-report", "--json").stdout)
    job = client.hgetall(KEYS.job("beat-report", triggered["jobId"]))
    assert json.loads(job[b"data"]) == {"kind": "hourly"}

    assert _cli(redis_url, "remove", "hourly-report").returncode == 0
    missing = _cli(redis_url, "pause", "hourly-report")
    assert missing.returncode != 0 and "no schedule named 'hourly-report'" in missing.stderr


def test_celery_project_beat_sends_its_entries(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    proc = subprocess.Popen([sys.executable, "-m", "taskora", "beat", "-A", "tests.beat_celery_app"], cwd=ROOT,
                            env=_env(redis_url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def runs() -> int:  # Celery's default priority puts jobs in the prioritized set
            return client.llen(KEYS.state_set("beatproj.add", "wait")) + client.zcard(
                KEYS.state_set("beatproj.add", "prioritized"))

        _wait_for(lambda: runs() >= 2, 20, "two beat runs")
        stored = set(client.hkeys(KEYS.schedules))
        assert stored == {b"add-every-second", b"add-hourly"}
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)  # waits, and closes the stderr pipe
        assert proc.returncode == 0, err.decode()
    assert client.get(KEYS.schedules_lock) is None  # released on a clean stop
