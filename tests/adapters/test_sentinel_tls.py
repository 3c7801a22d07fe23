"""taskora behind a Sentinel set over TLS (#19): master and replica listen on a TLS port alone (``port 0``), the
replica syncs over TLS and the sentinels reach the data nodes over TLS (tests/redis_sentinel_tls.py).
``rediss+sentinel://`` reaches the sentinels' TLS ports and the master over TLS with the URL's ``ssl_*``
settings (taskora/adapters/sentinel_tls.py); a user's TLS ``master_for`` client works too; a set whose CA is
not trusted is refused with an error naming the URL and the certificate failure; Celery's ``broker_use_ssl``
with kombu's ``sentinel://`` puts the master on TLS behind plain sentinel ports, as kombu does; and killing
the master mid-load loses no job.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from redis.sentinel import Sentinel

from taskora import BrokerUnreachableError, Taskora
from taskora.redis import redis_adapter
from tests.adapters.test_topology import run_through_failover
from tests.redis_sentinel_tls import TLSRedisSentinels
from tests.waiting import collect_dropped_connections


@pytest.fixture(scope="module")
def tls_sentinels() -> Iterator[TLSRedisSentinels]:
    """A master and a replica on TLS only, three sentinels on TLS (and plain) ports, with a throw-away CA."""
    sentinels = TLSRedisSentinels().start()
    yield sentinels
    sentinels.stop()
    collect_dropped_connections()  # the failover's, and the refused handshake's (a two-process run met one later)


@pytest.fixture
def tls_master(tls_sentinels: TLSRedisSentinels) -> Iterator[redis.Redis]:
    """A TLS client of the current master, emptied first."""
    with tls_sentinels.client(tls_sentinels.master_port()) as client:
        client.flushall()
        yield client


def test_a_rediss_sentinel_url_runs_tasks_over_tls_only(tls_sentinels: TLSRedisSentinels,
                                                         tls_master: redis.Redis) -> None:  # fmt: skip
    app = Taskora(redis_adapter(tls_sentinels.url))
    try:
        task = app.task("double", lambda n: 2 * n)
        app.start()
        assert [task.dispatch(n).result(timeout=10) for n in range(3)] == [0, 2, 4]
    finally:
        app.close(timeout=5)
    assert tls_master.exists(app.adapter.keys.meta)  # written through the TLS master the sentinels named


def test_a_users_tls_master_for_client_runs_tasks_and_its_blocking_reads_speak_tls_too(
        tls_sentinels: TLSRedisSentinels, tls_master: redis.Redis) -> None:  # fmt: skip
    """The adapter's blocking-read sibling of a user's client keeps the client's TLS connection class."""
    ca = str(tls_sentinels.certs.ca)
    sentinel = Sentinel([("127.0.0.1", s.port) for s in tls_sentinels.sentinels],
                        sentinel_kwargs={"ssl": True, "ssl_ca_certs": ca})  # fmt: skip
    client = sentinel.master_for(tls_sentinels.service, ssl=True, ssl_ca_certs=ca)
    app = Taskora(redis_adapter(client))
    try:
        task = app.task("triple", lambda n: 3 * n)
        app.start()
        assert task.dispatch(7).result(timeout=10) == 21
        assert app.adapter.blocking.connection_pool.connection_class is client.connection_pool.connection_class
    finally:
        app.close(timeout=5)
        client.close()
        sentinel.close()


def test_a_tls_sentinel_set_whose_ca_is_not_trusted_is_refused_naming_the_url(
        tls_sentinels: TLSRedisSentinels, tls_master: redis.Redis) -> None:  # fmt: skip
    untrusted = tls_sentinels.url.partition("?")[0].replace("rediss+sentinel://", "rediss+sentinel://:s3cret@")
    app = Taskora(redis_adapter(untrusted))
    try:
        task = app.task("t", lambda n: n)
        with pytest.raises(redis.ConnectionError) as refused:
            task.dispatch(1)
        with pytest.raises(BrokerUnreachableError, match="(?i)certificate verify failed"):
            app.start()
    finally:
        app.close(timeout=5)
    text = str(refused.value)
    assert "certificate verify failed" in text.lower()
    assert "rediss+sentinel://:****@127.0.0.1:" in text and "s3cret" not in text
    assert all(f"127.0.0.1:{s.port}: " in text for s in tls_sentinels.sentinels)  # what each sentinel said
    assert tls_master.dbsize() == 0


def kombu_broker(sentinels: TLSRedisSentinels) -> str:
    """kombu's ``sentinel://`` form, on the sentinels' plain ports (kombu talks to sentinels in plain text)."""
    return ";".join(f"sentinel://127.0.0.1:{s.plain_port}" for s in sentinels.sentinels)


def test_a_celery_app_reaches_a_tls_master_through_plain_sentinels_with_broker_use_ssl(
        tls_sentinels: TLSRedisSentinels, tls_master: redis.Redis) -> None:  # fmt: skip
    """As kombu does: ``broker_use_ssl`` puts the master connection on TLS, the sentinels stay plain."""
    from taskora.compat import Celery

    app = Celery("proj", broker=kombu_broker(tls_sentinels),
                 broker_use_ssl={"ssl_ca_certs": str(tls_sentinels.certs.ca)},
                 broker_transport_options={"master_name": tls_sentinels.service})  # fmt: skip

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    native = app.__taskora_app__
    native.start()
    try:
        assert add.delay(2, 3).get(timeout=10) == 5
    finally:
        app.close()  # the Celery app too: a live app takes every shared task imported later
    assert tls_master.exists(native.adapter.keys.meta)


def test_broker_use_ssl_true_with_a_sentinel_broker_speaks_tls_to_the_master(
        tls_sentinels: TLSRedisSentinels, tls_master: redis.Redis) -> None:  # fmt: skip
    """``broker_use_ssl=True`` (redis-py's defaults: the system's CAs) is TLS, not a silent plain connection: the
    test CA is not among the system's, so the master's certificate is refused."""
    from taskora.compat import Celery
    from taskora.compat.exceptions import OperationalError

    app = Celery("proj", broker=kombu_broker(tls_sentinels), broker_use_ssl=True,
                 broker_transport_options={"master_name": tls_sentinels.service})  # fmt: skip

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    try:
        with pytest.raises(OperationalError, match="(?i)sentinel://127.0.0.1:.*certificate verify failed"):
            add.delay(2, 3)
    finally:
        app.close()
    assert tls_master.dbsize() == 0


# Last in the module: the killed master stays down, the module's set has failed over for good.
def test_killing_the_tls_sentinel_master_mid_load_loses_no_job(tls_sentinels: TLSRedisSentinels,
                                                               tls_master: redis.Redis) -> None:  # fmt: skip
    old = tls_sentinels.master_port()
    victim = next(s for s in (tls_sentinels.master, tls_sentinels.replica) if s.port == old)
    app = Taskora(redis_adapter(tls_sentinels.url))
    try:
        timings = run_through_failover(app, victim.stop)
    finally:
        app.close(timeout=5)
    assert tls_sentinels.master_port() != old  # the sentinels promoted the replica, synced over TLS
    assert timings["worker_resumed_s"] < 20
