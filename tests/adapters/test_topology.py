"""taskora on Redis Cluster and behind Redis Sentinel: their URLs, their clients, and failover mid-load.

The cluster (3 masters, 3 replicas) and the sentinel set (master, replica, 3 sentinels) are real redis-servers
started by session fixtures (tests/redis_cluster.py). The failover tests kill a master with SIGKILL while a
producer and a worker run, and check that no dispatched job is lost and both go on without a restart.
"""

from __future__ import annotations

import gc
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from redis.cluster import ClusterNode
from redis.cluster import RedisCluster as ClusterClient
from redis.exceptions import ClusterDownError, RedisClusterException
from redis.sentinel import Sentinel

from taskora import ConfigurationError, Taskora, TaskoraError, chain
from taskora.adapters.base import CONNECTION_ERRORS
from taskora.adapters.slot_connections import SlotConnections
from taskora.adapters.topology import parse_topology_url
from taskora.redis import redis_adapter
from taskora.worker.control import ControlHandler, ControlServer
from taskora.worker.loop import Worker
from tests.redis_cluster import Certificates, RedisCluster, RedisSentinels, TLSRedisCluster
from tests.redis_server import RedisServer, free_port
from tests.waiting import collect_dropped_connections, wait_until

# -- URLs ---------------------------------------------------------------------------------------------


def test_a_cluster_url_names_its_seed_nodes_and_credentials() -> None:
    parsed = parse_topology_url("redis+cluster://user:s3cret@10.0.0.1:7000,10.0.0.2:7001/")
    assert parsed.hosts == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]
    assert (parsed.username, parsed.password, parsed.tls) == ("user", "s3cret", False)
    assert parse_topology_url("rediss+cluster://h:7000").tls


def test_a_sentinel_url_names_its_sentinels_service_and_database() -> None:
    parsed = parse_topology_url("redis+sentinel://:pw@s1:26379,s2:26380/mymaster/3?sentinel_password=spw")
    assert parsed.hosts == [("s1", 26379), ("s2", 26380)]
    assert (parsed.service, parsed.db, parsed.password) == ("mymaster", 3, "pw")
    assert parsed.options == {"sentinel_password": "spw"}


def test_kombus_sentinel_url_form_is_read_with_the_master_name_as_an_option() -> None:
    parsed = parse_topology_url("sentinel://:pw@s1:26379;sentinel://:pw@s2:26380?master_name=queue")
    assert parsed.hosts == [("s1", 26379), ("s2", 26380)]
    assert (parsed.service, parsed.db, parsed.password) == ("queue", 0, "pw")


@pytest.mark.parametrize(("url", "why"), [
    ("redis+sentinel://s1:26379", "name the master"),
    ("redis+sentinel://s1:26379/mymaster/x", "the database must be a number"),
    ("redis+cluster://h:7000/2", "a cluster has no databases"),
    ("redis+cluster://h:port", "expected host:port"),
    ("redis+cluster://h:7000/?colour=red", "unknown option"),
    ("sentinel://s1:1;redis://s2:2", "every ';'-separated part"),
])  # fmt: skip
def test_a_bad_topology_url_is_refused_naming_what_is_wrong(url: str, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why):
        redis_adapter(url)


def test_an_app_takes_a_cluster_url_as_its_adapter(cluster_url: str) -> None:
    app = Taskora(cluster_url)
    try:
        task = app.task("inc", lambda n: n + 1)
        app.start()
        assert type(app.adapter.raw_client()).__name__ == "RedisCluster"
        assert task.dispatch(1).result(timeout=10) == 2
    finally:
        app.close(timeout=5)


def test_a_refused_url_never_shows_its_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        redis_adapter("redis+sentinel://:s3cret@s1:26379")
    assert "s3cret" not in str(caught.value)


# -- clients ------------------------------------------------------------------------------------------


def test_a_users_redis_cluster_client_runs_tasks(cluster_url: str, redis_cluster: RedisCluster) -> None:
    client = ClusterClient(startup_nodes=[ClusterNode("127.0.0.1", redis_cluster.nodes[0].port)])
    app = Taskora(redis_adapter(client))
    try:
        task = app.task("add", lambda xy: xy[0] + xy[1])
        app.start()
        assert task.dispatch([2, 3]).result(timeout=10) == 5
    finally:
        app.close(timeout=5)
        client.close()


def test_remote_control_reaches_workers_connected_to_any_node_of_a_cluster(cluster_url: str) -> None:
    """A worker's control subscription sits on one node; PUBLISH and PUBSUB NUMSUB count per node."""
    app = Taskora(redis_adapter(cluster_url))
    handler = ControlHandler(app, ["x"], "worker-1", pool="threads", concurrency=1, active=list, stats=dict)
    server = ControlServer(app, handler)
    server.start()
    try:
        wait_until(lambda: app.adapter.control_listeners() == 1, timeout=10, what="the worker to subscribe")
        assert list(app.broadcast("ping", timeout=5)) == ["worker-1"]
    finally:
        server.stop()
        app.close(timeout=5)


def test_transitions_go_straight_to_the_node_owning_each_tasks_slot(cluster_url: str,
                                                                     redis_cluster: RedisCluster) -> None:
    """The per-thread node connections (adapters/slot_connections.py) pick the node by slot: tasks spread over
    all three masters run without a single MOVED redirection."""
    app = Taskora(redis_adapter(cluster_url))
    names = spread_over_masters(app, redis_cluster)
    tasks = [app.task(name, lambda n: n + 1) for name in names]
    moved_before = sum(moved_replies(node) for node in redis_cluster.masters())
    app.start()
    try:
        assert type(app.adapter.runner).__name__ == "SlotConnections"
        assert [t.dispatch(i).result(timeout=10) for i, t in enumerate(tasks) for _ in range(5)] == \
            [i + 1 for i in range(len(tasks)) for _ in range(5)]
    finally:
        app.close(timeout=5)
    assert sum(moved_replies(node) for node in redis_cluster.masters()) == moved_before


def test_a_worker_and_a_producer_follow_a_tasks_slot_to_another_master(cluster_url: str,
                                                                         redis_cluster: RedisCluster) -> None:
    """Resharding moves a slot while the worker waits on it and the producer's slot map is stale: both get
    MOVED from the old node, refresh their map, and go on on the new one."""
    app = Taskora(redis_adapter(cluster_url))
    task = app.task("moving", lambda n: n * 10)
    app.start()
    try:
        assert task.dispatch(1).result(timeout=10) == 10
        marker = app.adapter.keys.marker("moving")
        old = redis_cluster.master_of(marker)
        moved_before = moved_replies(old)
        new = redis_cluster.move_slot(marker)
        assert [task.dispatch(n).result(timeout=10) for n in range(20)] == [n * 10 for n in range(20)]
        assert redis_cluster.master_of(marker).port == new.port
        assert moved_replies(old) > moved_before  # the old node redirected a stale call
    finally:
        app.close(timeout=5)


def test_a_slot_resharded_key_by_key_under_load_loses_no_job(cluster_url: str, redis_cluster: RedisCluster) -> None:
    """While a task's slot is half-moved, the old node answers ASK for the keys already gone and TRYAGAIN to a
    script whose keys sit on both nodes; the producer and the worker keep going through it, and every job runs."""
    app = Taskora(redis_adapter(cluster_url))
    try:
        old = redis_cluster.master_of(app.adapter.keys.marker("load"))
        before = redirect_replies(old)
        new_owner: list[RedisServer] = []
        run_through_failover(app, lambda: new_owner.append(
            redis_cluster.move_slot("{load}", keys_per_step=1, step_pause_s=0.005)))
    finally:
        app.close(timeout=5)
    assert redis_cluster.master_of("{load}").port == new_owner[0].port != old.port
    after = redirect_replies(old)
    print(f"redirects from the old node during the move: { {k: after[k] - before[k] for k in after} }")
    assert after["ASK"] > before["ASK"] and after["TRYAGAIN"] > before["TRYAGAIN"], after  # really half-moved


def redirect_replies(node: RedisServer) -> dict[str, int]:
    with redis.Redis(port=node.port, decode_responses=True) as client:
        stats = client.info("errorstats")
    return {kind: int(stats.get(f"errorstat_{kind}", {}).get("count", 0)) for kind in ("ASK", "TRYAGAIN", "MOVED")}


def spread_over_masters(app: Taskora, cluster: RedisCluster) -> list[str]:
    """One task name per master (by the slot of the task's hash tag)."""
    by_master: dict[int, str] = {}
    for i in range(200):
        by_master.setdefault(cluster.master_of(app.adapter.keys.marker(f"t{i}")).port, f"t{i}")
    assert len(by_master) == 3
    return list(by_master.values())


def moved_replies(node: RedisServer) -> int:
    with redis.Redis(port=node.port, decode_responses=True) as client:
        return int(client.info("errorstats").get("errorstat_MOVED", {}).get("count", 0))


def test_every_family_of_keys_a_script_takes_shares_one_slot_on_a_cluster(cluster_url: str) -> None:
    keys = redis_adapter(cluster_url).keys
    families = [keys.queue("a") + [keys.job("a", "1"), keys.lock("a", "1"), keys.cancel_channel("a")],
                [keys.schedules, keys.schedules_next, keys.schedules_lock]]  # fmt: skip
    with redis.Redis.from_url(cluster_url.replace("redis+cluster", "redis").split(",")[0] + "/") as node:
        for family in families:
            assert len({node.execute_command("CLUSTER", "KEYSLOT", k) for k in family}) == 1, family


def test_a_sentinel_url_and_a_master_for_client_both_run_tasks(redis_sentinels: RedisSentinels) -> None:
    sentinel = Sentinel([("127.0.0.1", s.port) for s in redis_sentinels.sentinels])
    for target in (redis_sentinels.url, sentinel.master_for(redis_sentinels.service)):
        app = Taskora(redis_adapter(target))
        try:
            task = app.task("double", lambda n: 2 * n)
            app.start()
            assert task.dispatch(21).result(timeout=10) == 42
        finally:
            app.close(timeout=5)


def test_a_celery_app_on_kombus_sentinel_url_with_the_master_in_transport_options(
        redis_sentinels: RedisSentinels) -> None:  # fmt: skip
    from taskora.compat import Celery

    broker = ";".join(f"sentinel://127.0.0.1:{s.port}" for s in redis_sentinels.sentinels)
    app = Celery("proj", broker=broker, broker_transport_options={"master_name": redis_sentinels.service})

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    native = app.__taskora_app__
    native.start()
    try:
        assert add.delay(2, 3).get(timeout=10) == 5
    finally:
        app.close()  # the Celery app, not only its engine: a live app takes every shared task imported later


# -- failover mid-load ----------------------------------------------------------------------------------

#: Jobs dispatched per failover test; the master is killed once a third of them were dispatched.
LOAD = 300


@dataclass
class Load:
    """A producer thread dispatching ``0..LOAD-1`` (retrying a dispatch that failed) and what the worker ran."""

    done: set[int] = field(default_factory=set)
    done_at: dict[int, float] = field(default_factory=dict)
    dispatched_at: dict[int, float] = field(default_factory=dict)
    dispatch_errors: int = 0
    third: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self, n: int) -> int:
        with self.lock:
            self.done.add(n)
            self.done_at.setdefault(n, time.monotonic())
        return n

    def produce(self, dispatch: Callable[[int], object]) -> None:
        for n in range(LOAD):
            while True:
                try:
                    dispatch(n)
                    break
                except (TaskoraError, redis.RedisError, *CONNECTION_ERRORS):
                    self.dispatch_errors += 1  # the store is failing over: send it again
                    time.sleep(0.05)  # back off between tries; nothing to await in the producer
            self.dispatched_at[n] = time.monotonic()
            if n == LOAD // 3:
                self.third.set()
            time.sleep(0.002)  # a steady load spread over the failover, not one burst before it


def run_through_failover(app: Taskora, kill: Callable[[], None]) -> dict[str, float]:
    """Dispatch LOAD jobs, kill the master a third of the way in; every job must run. Returns the timings."""
    load = Load()
    task = app.task("load", load.handler)
    worker = Worker(app, [task], concurrency=4)
    worker.start()
    producer = threading.Thread(target=load.produce, args=(task.dispatch,), daemon=True)
    try:
        producer.start()
        assert load.third.wait(30)
        killed_at = time.monotonic()
        kill()
        producer.join(120)
        wait_until(lambda: len(load.done) == LOAD, timeout=60, what="every dispatched job to run")
    finally:
        worker.stop(timeout=10)
    assert load.done == set(range(LOAD))  # 0 jobs lost
    later = [t for t in load.dispatched_at.values() if t > killed_at + 0.001]
    ran_later = [t for n, t in load.done_at.items() if load.dispatched_at[n] > killed_at]
    timings = {"producer_resumed_s": min(later) - killed_at, "worker_resumed_s": min(ran_later) - killed_at,
               "dispatch_errors": load.dispatch_errors}  # fmt: skip
    print(f"\nfailover timings: {timings}")
    return timings


def test_killing_a_cluster_master_mid_load_loses_no_job(cluster_url: str, redis_cluster: RedisCluster) -> None:
    app = Taskora(redis_adapter(cluster_url))
    try:
        victim = redis_cluster.master_of(app.adapter.keys.marker("load"))
        timings = run_through_failover(app, victim.stop)
    finally:
        app.close(timeout=5)
    assert redis_cluster.master_of("{load}").port != victim.port  # its replica was promoted
    assert timings["worker_resumed_s"] < 20


def test_while_a_slot_has_no_node_the_cluster_is_down_and_taskora_waits_it_out(
        cluster_url: str, redis_cluster: RedisCluster) -> None:  # fmt: skip
    """A master and its replica both gone: every node answers CLUSTERDOWN. That is an unreachable store to
    taskora (a dispatch raises a connection error, never an engine error), and the worker running through
    the outage runs jobs again once the nodes are back, without a restart."""
    app = Taskora(redis_adapter(cluster_url))
    task = app.task("steady", lambda n: n)
    app.start()
    other = next(n for n in redis_cluster.masters() if n.port != redis_cluster.master_of("{steady}").port)
    down = [other, redis_cluster.replica_of(other)]
    for node in down:
        node.stop()
    try:
        wait_until(redis_cluster.is_down, timeout=30, what="the cluster to report cluster_state:fail")
        with pytest.raises(CONNECTION_ERRORS):
            task.dispatch(99)
    finally:
        for node in down:
            node.start()
    try:
        redis_cluster.wait_healthy()
        assert [task.dispatch(n).result(timeout=30) for n in range(5)] == list(range(5))
    finally:
        app.close(timeout=5)
        # An app leaves open the adapter it was given: one of its node connections, collected unclosed at the
        # end of a run of this test alone, failed that run (filterwarnings = error) after the test had passed.
        app.adapter.close()


class DownCluster:
    """A cluster client with no node reachable and every command answered CLUSTERDOWN past its own retries; it
    records the commands sent through it."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.nodes_manager = self

    def get_node_from_slot(self, slot: int) -> object:
        raise redis.ConnectionError("no node reachable")

    def initialize(self) -> None:
        raise RedisClusterException("no node reachable")

    @staticmethod
    def keyslot(key: object) -> int:
        return 0

    def execute_command(self, *command: object) -> object:
        self.sent.append(str(command[0]))
        raise ClusterDownError("The cluster is down")


def test_a_claim_is_not_sent_after_its_marker_wait_failed_over_on_a_cluster() -> None:
    """The race the slot-without-node test met one run in four: sent after the wait's CLUSTERDOWN, the claim ran
    once the cluster was back and took a job the slot never got (the wait's error was raised)."""
    cluster = DownCluster()
    with pytest.raises(ClusterDownError):
        SlotConnections(cluster).call_many(("BZPOPMIN", "{t}:marker", 5), ("EVALSHA", "sha", 1, "{t}:wait", "arg"))
    assert cluster.sent == ["BZPOPMIN"]


def test_killing_the_sentinel_master_mid_load_loses_no_job(redis_sentinels: RedisSentinels) -> None:
    old = redis_sentinels.master_port()
    victim = next(s for s in (redis_sentinels.master, redis_sentinels.replica) if s.port == old)
    app = Taskora(redis_adapter(redis_sentinels.url))
    try:
        timings = run_through_failover(app, victim.stop)
    finally:
        app.close(timeout=5)
        collect_dropped_connections()  # the failover's, here rather than in a later test or at the session's end
    assert redis_sentinels.master_port() != old  # the sentinels promoted the replica
    assert timings["worker_resumed_s"] < 20


# -- a TLS cluster ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[TLSRedisCluster]:
    """Six nodes speaking TLS to clients, to each other and to their replicas (tests/redis_cluster.py)."""
    cluster = TLSRedisCluster().start()
    yield cluster
    cluster.stop()
    # Node connections the cluster client dropped from its map (a failover, a refused handshake) are collected
    # here (a full run met them in test_wait_then_claim's set-up, twice).
    collect_dropped_connections()


@pytest.fixture
def tls_url(tls_cluster: TLSRedisCluster) -> str:
    tls_cluster.wait_healthy()
    tls_cluster.flushall()
    return tls_cluster.url


@pytest.mark.cluster
def test_a_tls_cluster_runs_tasks_and_workflows_on_the_per_node_fast_path(
        tls_url: str, tls_cluster: TLSRedisCluster) -> None:  # fmt: skip
    """Over ``rediss+cluster://`` the per-thread node connections speak TLS too (adapters/direct_tls.py): jobs
    of tasks on all three masters and a chain across them run without one MOVED redirection."""
    app = Taskora(redis_adapter(tls_url))
    names = spread_over_masters(app, tls_cluster)
    tasks = [app.task(name, lambda n: n + 1) for name in names]
    moved_before = sum(moved_replies(node) for node in tls_cluster.masters())
    app.start()
    try:
        assert type(app.adapter.runner).__name__ == "SlotConnections"
        assert [t.dispatch(i).result(timeout=10) for i, t in enumerate(tasks) for _ in range(3)] == \
            [i + 1 for i in range(len(tasks)) for _ in range(3)]
        assert chain(tasks[0].s(0), *(t.s() for t in tasks[1:])).dispatch().result(timeout=15) == len(tasks)
        assert {c._tls is not None for c in app.adapter.runner._opened} == {True}
    finally:
        app.close(timeout=5)
        app.adapter.close()  # an adapter given to the app is the test's to close
    assert sum(moved_replies(node) for node in tls_cluster.masters()) == moved_before


def test_a_single_tls_redis_runs_transitions_on_direct_connections(tmp_path: Path) -> None:
    """The same TLS wrapping serves a single ``rediss://`` Redis: its hot path is no longer redis-py's pool."""
    certs, tls_port = Certificates(tmp_path), free_port()
    with RedisServer(extra_args=("--tls-port", str(tls_port), *certs.server_args())):
        app = Taskora(redis_adapter(f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={certs.ca}"))
        try:
            task = app.task("double", lambda n: 2 * n)
            app.start()
            assert [task.dispatch(n).result(timeout=10) for n in range(3)] == [0, 2, 4]
            opened = list(app.adapter.runner._opened)
            assert opened and {type(c).__name__ for c in opened} == {"DirectConnection"}
            assert {c._tls is not None for c in opened} == {True}
        finally:
            app.close(timeout=5)
            app.adapter.close()  # an adapter given to the app is the test's to close


@pytest.mark.cluster
def test_a_users_tls_cluster_client_runs_tasks(tls_url: str, tls_cluster: TLSRedisCluster) -> None:
    port = tls_cluster.tls_ports[tls_cluster.nodes[0].port]
    client = ClusterClient(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(tls_cluster.certs.ca))
    app = Taskora(redis_adapter(client))
    try:
        task = app.task("double", lambda n: 2 * n)
        app.start()
        assert task.dispatch(21).result(timeout=10) == 42
        assert type(app.adapter.runner).__name__ == "SlotConnections"
    finally:
        app.close(timeout=5)
        app.adapter.close()  # the adapter's own per-node connections: the test's adapter, the test's to close
        client.close()  # the user's client is the user's to close; left to the collector it warns


@pytest.mark.cluster
def test_a_tls_cluster_whose_certificate_is_not_trusted_is_refused(tls_url: str) -> None:
    untrusted = tls_url.partition("?")[0]  # no ssl_ca_certs: the test CA is unknown to the system's store
    with pytest.raises((TaskoraError, redis.RedisError, RedisClusterException), match="(?i)certificate verify failed"):
        Taskora(redis_adapter(untrusted)).task("t", lambda n: n).dispatch(1)
    # redis-py's cluster client leaves the socket of a refused handshake to the collector: collect it here, where it
    # is expected, rather than in whichever test the collector happens to run in (filterwarnings = error)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.mark.cluster
def test_killing_a_tls_cluster_master_mid_load_loses_no_job(tls_url: str, tls_cluster: TLSRedisCluster) -> None:
    app = Taskora(redis_adapter(tls_url))
    try:
        victim = tls_cluster.master_of(app.adapter.keys.marker("load"))
        timings = run_through_failover(app, victim.stop)
    finally:
        app.close(timeout=5)
        app.adapter.close()  # the test's adapter: its per-node TLS connections are the test's to close
    # redis-py's cluster client drops the killed master's node (and its pool's TLS connections) from its map at the
    # failover without closing them: collect them here, where it is expected, rather than in whichever later test
    # the collector happens to run in (filterwarnings = error; a CI run met it in tests/adapters/test_wait_then_claim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert tls_cluster.master_of("{load}").port != victim.port  # its replica was promoted, over TLS replication
    assert timings["worker_resumed_s"] < 20
