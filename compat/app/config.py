"""Celery's ``app.conf``: setting names old and new, defaults, config sources and env overrides.

Celery projects configure their app through ``Celery('proj', broker=…)``, ``app.conf.update(…)``,
``app.conf.x = …``, ``app.config_from_object('proj.celeryconfig')`` (new lowercase names or the old
uppercase ones such as ``CELERY_ALWAYS_EAGER``) and Django's ``config_from_object('django.conf:settings',
namespace='CELERY')``. :class:`Settings` gives all of them Celery's semantics:

* Known settings are stored under their new name; the old alias reads and writes the same value.
  Unknown names are accepted silently and kept as given.
* Layers, strongest first: writes through ``conf`` (constructor values included) → the config source
  → ``add_defaults`` → defaults. The source is imported lazily, on the first read of any setting, then
  ``on_configure`` runs; ``config_from_object`` after that reloads and drops later ``conf`` writes.
* The source is read live, as Celery reads it: each read looks the setting up in the source object
  again, so Django's ``override_settings(CELERY_TASK_ALWAYS_EAGER=True)`` (or pytest-django's
  ``settings`` fixture) takes effect inside the test and is undone after it.
* A source mixing old and new names raises :class:`ImproperlyConfigured` unless one style dominates
  and every minority key has its counterpart too (Celery's rule); a namespace turns the check off.
* Attribute reads apply Celery's derived values: env ``CELERY_BROKER_URL``, ``CELERY_RESULT_BACKEND``,
  ``CELERY_BROKER_READ_URL``/``_WRITE_URL`` beat configured values, ``timezone`` falls back to
  Django's ``TIME_ZONE``, the default exchange/routing key to ``task_default_queue``. Item access
  (``conf[key]``, ``conf.get``) returns the stored value, as in Celery.

:meth:`Settings.effective` gives the settings taskora converts as plain values. Past 400 lines
because it carries Celery's settings table (data).
"""

from __future__ import annotations

import importlib
import os
import re
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from copy import deepcopy
from datetime import timedelta
from typing import Any

from ..exceptions import ImproperlyConfigured
from ..utils.log import DEFAULT_PROCESS_LOG_FMT, DEFAULT_TASK_LOG_FMT
from ._bugreport import sanitize_url
from ._effective import EffectiveSettings, resolve

# fmt: off
__all__ = [
    "DEFAULTS", "SETTING_NAMES", "NEW_TO_OLD", "OLD_TO_NEW", "EffectiveSettings", "Settings", "check_mixing",
    "load_object",
]

# Celery's settings: namespace -> {name: default}, full name "<namespace>_<name>". Settings of result
# backends taskora replaces (cache, database, mongodb, …) are left out: accepted like any unknown name.
_TABLE: dict[str, dict[str, Any]] = {
    "": {
        "accept_content": ("json",), "result_accept_content": None, "enable_utc": True,
        "imports": (), "include": (), "timezone": None,
    },
    "beat": {
        "max_loop_interval": 0, "schedule": {}, "scheduler": "celery.beat:PersistentScheduler",
        "schedule_filename": "celerybeat-schedule", "sync_every": 0, "cron_starting_deadline": None,
    },
    "broker": {
        "url": None, "read_url": None, "write_url": None, "transport": None, "transport_options": {},
        "connection_timeout": 4, "connection_retry": True, "connection_retry_on_startup": None,
        "connection_max_retries": 100, "channel_error_retry": False, "failover_strategy": None,
        "heartbeat": 120, "heartbeat_checkrate": 3.0, "login_method": None,
        "native_delayed_delivery_queue_type": "quorum", "pool_limit": 10, "pool_acquire_timeout": None,
        "use_ssl": False,
        "host": None, "port": None, "user": None, "password": None, "vhost": None,
    },
    "control": {"queue_ttl": 300.0, "queue_expires": 10.0, "exchange": "celery"},
    "event": {
        "queue_expires": 60.0, "queue_ttl": 5.0, "queue_prefix": "celeryev", "serializer": "json",
        "exchange": "celeryev", "queue_durable": False, "queue_exclusive": False,
    },
    "redis": {
        "backend_use_ssl": None, "db": None, "host": None, "max_connections": None, "username": None,
        "password": None, "port": None, "socket_timeout": 120.0, "socket_connect_timeout": None,
        "retry_on_timeout": False, "socket_keepalive": False,
    },
    "result": {
        "backend": None, "cache_max": -1, "compression": None, "exchange": "celeryresults",
        "exchange_type": "direct", "expires": timedelta(days=1), "persistent": None, "extended": False,
        "serializer": "json", "backend_transport_options": {}, "chord_retry_interval": 1.0,
        "chord_join_timeout": 3.0, "backend_max_sleep_between_retries_ms": 10000,
        "backend_max_retries": float("inf"), "backend_base_sleep_between_retries_ms": 10,
        "backend_always_retry": False, "chord_expires": None, "failure_expires": None,
    },
    "task": {
        "acks_late": False, "acks_on_failure_or_timeout": True, "always_eager": False, "annotations": None,
        "compression": None, "create_missing_queues": True, "inherit_parent_priority": False,
        "default_delivery_mode": 2, "default_queue": "celery", "default_queue_type": "classic",
        "default_exchange": None, "default_exchange_type": "direct", "default_routing_key": None,
        "default_rate_limit": None, "default_priority": None, "eager_propagates": False,
        "ignore_result": False, "store_eager_result": False, "protocol": 2, "publish_retry": True,
        "publish_retry_policy": {"max_retries": 3, "interval_start": 0, "interval_max": 1, "interval_step": 0.2},
        "queues": None, "queue_max_priority": None, "reject_on_worker_lost": None, "remote_tracebacks": False,
        "routes": None, "send_sent_event": False, "serializer": "json", "soft_time_limit": None,
        "time_limit": None, "store_errors_even_if_ignored": False, "track_started": False,
        "allow_error_cb_on_chord_header": False,
        # taskora additions: app-wide defaults of the Task attributes of the same meaning.
        "default_retry_delay": 180, "max_retries": 3,
    },
    "worker": {
        "agent": None, "autoscaler": "celery.worker.autoscale:Autoscaler",
        "cancel_long_running_tasks_on_connection_loss": False, "soft_shutdown_timeout": 0.0,
        "enable_soft_shutdown_on_idle": False, "concurrency": None,
        "consumer": "celery.worker.consumer:Consumer", "direct": False, "disable_rate_limits": False,
        "deduplicate_successful_tasks": False, "enable_remote_control": True, "hijack_root_logger": True,
        "log_color": None, "log_format": DEFAULT_PROCESS_LOG_FMT, "lost_wait": 10.0,
        "max_memory_per_child": None, "max_tasks_per_child": None, "pool": "prefork", "pool_putlocks": True,
        "pool_restarts": False, "proc_alive_timeout": 4.0, "prefetch_multiplier": 4, "disable_prefetch": False,
        "enable_prefetch_count_reduction": True, "eta_task_limit": None, "redirect_stdouts": True,
        "redirect_stdouts_level": "WARNING", "send_task_events": False, "state_db": None,
        "task_log_format": DEFAULT_TASK_LOG_FMT, "timer": None, "timer_precision": 1.0,
        "detect_quorum_queues": True,
    },
}

# Old (Celery <= 3.1) names: a namespace's old prefix + the upper-cased rest of the name ...
_OLD_PREFIXES: tuple[tuple[str, str], ...] = (
    ("beat_", "CELERYBEAT_"), ("event_", "CELERY_EVENT_"), ("redis_", "CELERY_REDIS_"), ("result_", "CELERY_RESULT_"),
    ("task_", "CELERY_"), ("worker_", "CELERYD_"),
)
# ... except these; names matching no rule are simply upper-cased (BROKER_URL, ENABLE_UTC, ...).
_OLD_EXCEPTIONS: dict[str, str] = {
    "accept_content": "CELERY_ACCEPT_CONTENT", "imports": "CELERY_IMPORTS", "include": "CELERY_INCLUDE",
    "timezone": "CELERY_TIMEZONE", "result_accept_content": "RESULT_ACCEPT_CONTENT",
    "result_cache_max": "CELERY_MAX_CACHED_RESULTS", "result_expires": "CELERY_TASK_RESULT_EXPIRES",
    "task_compression": "CELERY_MESSAGE_COMPRESSION",
    "task_eager_propagates": "CELERY_EAGER_PROPAGATES_EXCEPTIONS", "task_protocol": "CELERY_TASK_PROTOCOL",
    "task_publish_retry": "CELERY_TASK_PUBLISH_RETRY",
    "task_publish_retry_policy": "CELERY_TASK_PUBLISH_RETRY_POLICY",
    "task_send_sent_event": "CELERY_SEND_TASK_SENT_EVENT", "task_serializer": "CELERY_TASK_SERIALIZER",
    "task_soft_time_limit": "CELERYD_TASK_SOFT_TIME_LIMIT", "task_time_limit": "CELERYD_TASK_TIME_LIMIT",
    "worker_direct": "CELERY_WORKER_DIRECT", "worker_disable_rate_limits": "CELERY_DISABLE_RATE_LIMITS",
    "worker_enable_remote_control": "CELERY_ENABLE_REMOTE_CONTROL",
    "worker_lost_wait": "CELERYD_WORKER_LOST_WAIT", "worker_redirect_stdouts": "CELERY_REDIRECT_STDOUTS",
    "worker_redirect_stdouts_level": "CELERY_REDIRECT_STDOUTS_LEVEL",
    "worker_send_task_events": "CELERY_SEND_EVENTS",
}
# fmt: on
#: Names taskora added; they never had an old spelling.
_NO_OLD_NAME = frozenset({"task_default_retry_delay", "task_max_retries"})


def _old_name(new: str) -> str:
    if new in _OLD_EXCEPTIONS:
        return _OLD_EXCEPTIONS[new]
    for new_prefix, old_prefix in _OLD_PREFIXES:
        if new.startswith(new_prefix):
            return old_prefix + new[len(new_prefix) :].upper()
    return new.upper()


#: Every known setting (new name) -> its default.
DEFAULTS: dict[str, Any] = {
    (f"{ns}_{name}" if ns else name): default for ns, options in _TABLE.items() for name, default in options.items()
}
#: The new (lowercase) setting names.
SETTING_NAMES = frozenset(DEFAULTS)
#: New name -> old uppercase alias.
NEW_TO_OLD: dict[str, str] = {new: _old_name(new) for new in DEFAULTS if new not in _NO_OLD_NAME}
#: Old uppercase alias -> new name.
OLD_TO_NEW: dict[str, str] = {old: new for new, old in NEW_TO_OLD.items()}

_MIX_HEAD = "Cannot mix new and old setting keys"
_HIDDEN = re.compile("API|TOKEN|KEY|SECRET|PASS|PROFANITIES_LIST|SIGNATURE|DATABASE", re.IGNORECASE)
_MASK = "********"


def check_mixing(keys: Iterable[str]) -> None:
    """Refuse a config source that mixes old and new names the way Celery refuses it.

    The style used by more keys wins (new on a tie); each key of the other style is an error unless
    its counterpart in the winning style is present too.

    Raises:
        ImproperlyConfigured: listing every key to rename.
    """
    have = set(keys)
    new, old = have & SETTING_NAMES, have & OLD_TO_NEW.keys()
    if not new or not old:
        return
    if len(old) > len(new):
        renames = {k: NEW_TO_OLD[k] for k in new if k in NEW_TO_OLD and NEW_TO_OLD[k] not in have}
        advice = "most settings use the old names; rename these to the old format (or switch all to the new one)"
    else:
        renames = {k: OLD_TO_NEW[k] for k in old if OLD_TO_NEW[k] not in have}
        advice = "rename these settings to the new (lowercase) format"
    if renames:
        lines = "\n".join(f"    {key:<40} -> {renames[key]}" for key in sorted(renames))
        raise ImproperlyConfigured(f"{_MIX_HEAD}: {advice}:\n{lines}")


def load_object(obj: Any) -> Any:
    """Resolve a config source: an object as is, or ``'pkg.module'``, ``'pkg.module:attr'``,
    ``'pkg.module.attr'`` (imported as a module first, then as module + attribute).

    Raises:
        ImportError / AttributeError: the module or attribute does not exist.
    """
    if not isinstance(obj, str):
        return obj
    if ":" in obj:
        module_name, _, attr = obj.partition(":")
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
        return target
    try:
        return importlib.import_module(obj)
    except ModuleNotFoundError as exc:
        if exc.name != obj or "." not in obj:
            raise  # a module the source itself imports is missing, or there is nothing to split
    module_name, _, attr = obj.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def _as_dict(source: Any) -> dict[str, Any]:
    """Read a mapping, module, class or instance into a dict (public attributes only)."""
    if isinstance(source, Mapping):
        return dict(source)
    values: dict[str, Any] = {}
    for name in dir(source):
        if name.startswith("_"):
            continue
        try:
            values[name] = getattr(source, name)
        except Exception:  # a property that fails to compute is simply not a setting
            continue
    return values


def _prefix(namespace: str | None) -> str | None:
    return namespace.rstrip("_") + "_" if namespace else None


def _classify(key: str, namespace: str | None) -> tuple[str | None, int]:
    """Map a key to ``(new name, rank)``; rank orders duplicates (0 = strongest), None = unknown."""
    prefix = _prefix(namespace)
    if prefix and key.startswith(prefix) and key[len(prefix) :].lower() in SETTING_NAMES:
        return key[len(prefix) :].lower(), 0
    if key in SETTING_NAMES:
        return key, 1
    if key in OLD_TO_NEW:
        return OLD_TO_NEW[key], 2
    return None, 3


def _translate(raw: Mapping[str, Any], namespace: str | None) -> dict[str, Any]:
    """Known settings of ``raw`` under their new names; on duplicates the strongest spelling wins."""
    values: dict[str, Any] = {}
    ranks: dict[str, int] = {}
    for key, value in raw.items():
        name, rank = _classify(key, namespace)
        if name is not None and rank <= ranks.get(name, rank):
            values[name], ranks[name] = value, rank
    return values


_MISSING: Any = object()


def _live_reader(source: Any) -> Callable[[str, Any], Any]:
    """``read(key, default)`` over the source as it is at each call (Celery reads its source live too).

    A mapping or a module is read through its dict (a miss is one dict lookup); any other object, such as
    Django's settings, through ``getattr``, because ``override_settings`` swaps what is behind it.
    """
    if isinstance(source, types.ModuleType):
        return vars(source).get
    if isinstance(source, Mapping):
        return source.get

    def read(key: str, default: Any) -> Any:
        try:
            return getattr(source, key, default)
        except Exception:  # a property that fails to compute is simply not a setting (as in _as_dict)
            return default

    return read


def _mask_url(value: Any) -> Any:
    """Hide the passwords of a URL (``scheme://user:password@host``, ``?password=``, or several joined by ``;``)."""
    return sanitize_url(value, mask=_MASK)


def _censor(key: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _censor(str(k), v) for k, v in value.items()}
    if _HIDDEN.search(key):
        return _MASK
    if "broker_url" in key.lower() or "backend" in key.lower():
        return _mask_url(value)
    return value


def _env_or(name: str, fallback: Callable[[], Any]) -> Any:
    return os.environ.get(name) or fallback()


#: Settings whose attribute read is computed, as in Celery: environment overrides and fallbacks.
_DERIVED: dict[str, Callable[[Settings], Any]] = {
    "broker_url": lambda c: _env_or("CELERY_BROKER_URL", lambda: c.get("broker_url") or c.get("broker_host")),
    "broker_read_url": lambda c: _env_or("CELERY_BROKER_READ_URL", lambda: c.get("broker_read_url") or c.broker_url),
    "broker_write_url": lambda c: _env_or("CELERY_BROKER_WRITE_URL", lambda: c.get("broker_write_url") or c.broker_url),
    "result_backend": lambda c: _env_or("CELERY_RESULT_BACKEND", lambda: c.get("result_backend")),
    "timezone": lambda c: c.get("timezone") or c.get("time_zone") or c.get("TIME_ZONE"),
    "task_default_exchange": lambda c: c.get("task_default_exchange") or c.get("task_default_queue"),
    "task_default_routing_key": lambda c: c.get("task_default_routing_key") or c.get("task_default_queue"),
}


class Settings(MutableMapping[str, Any]):
    """Celery's ``app.conf``: a mapping with attribute access over layered configuration.

    Args:
        preconf: Values set before any config source is read (the app's constructor arguments);
            they beat the source, as Celery's constructor values do.
        auto: Values of the constructor's own arguments (``broker=``, ``backend=``, ``include=``,
            keyword settings). They beat the source like ``preconf`` but, as in Celery, are left out of
            the old/new name mixing check: ``Celery(broker=...)`` followed by
            ``conf.update(flask_app.config)`` holding ``CELERY_RESULT_BACKEND`` is one old-style source.
        namespace: Key prefix of the source (``"CELERY"`` for Django settings); may also be given to
            :meth:`config_from_object`.
        on_configure: Called with the settings right after each (re)load, before the first read
            returns; the app uses it to send ``on_after_configure``.
    """

    def __init__(
        self,
        preconf: Mapping[str, Any] | None = None,
        *,
        auto: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        on_configure: Callable[[Settings], Any] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._namespace = namespace
        self._names: dict[str, str] = {}  # key as written -> setting name, for this namespace (_canonical)
        self._on_configure = on_configure
        self._early: dict[str, Any] = {}  # raw keys written before the first load, last write last
        self._source_spec: tuple[Any, bool] | None = None  # (object or import path, silent)
        self._source_ok = False
        self._extra_defaults: list[Mapping[str, Any] | Callable[[], Mapping[str, Any]]] = []
        self._loaded = False
        self._changes: dict[str, Any] = {}  # writes since the load (new names)
        self._explicit: dict[str, Any] = {}  # the early writes (new names)
        self._source: dict[str, Any] = {}  # known settings of the source at load (new names), for iteration
        self._live: Callable[[str, Any], Any] | None = None  # reads the source as it is now (_from_source)
        self._spellings: dict[str, tuple[str, ...]] = {}  # setting name -> its keys in the source, strongest first
        self._raw: dict[str, Any] = {}  # the source as read (unknown keys are looked up here)
        self._added: dict[str, Any] = {}  # add_defaults
        self._defaults: dict[str, Any] = {}
        self._auto_keys: frozenset[str] = frozenset(auto or ())
        self._writes = 0  # bumped by every change (see ``version``)
        if preconf:
            self.update(preconf)
        if auto:
            self.update(auto)

    # --- loading --------------------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        """True once the configuration source has been read."""
        return self._loaded

    @property
    def version(self) -> int | None:
        """A number that changes with every change of a setting made here (a write, a delete, ``add_defaults``,
        a (re)load), so a reader can keep what it read until it changes (``_publish_settings``); None while the
        source is read live (``config_from_object``: Django's ``override_settings`` changes it behind our
        back), when nothing may be kept."""
        if not self._loaded:
            self._ensure_loaded()
        return None if self._live is not None else self._writes

    def _changed(self) -> None:
        self._writes += 1

    @property
    def namespace(self) -> str | None:
        """The source's key prefix (``"CELERY"`` for Django), if any."""
        return self._namespace

    def config_from_object(
        self, obj: Any, silent: bool = False, force: bool = False, namespace: str | None = None
    ) -> bool:
        """Use ``obj`` as the configuration source (see :func:`load_object` for accepted forms).

        Lazy: the source is imported and read on the first read of a setting, unless ``force`` or the
        settings were already loaded; then it is read now, and writes made through ``conf`` since the
        previous load are dropped. With ``silent`` a missing module or attribute is ignored.

        Returns:
            False if the source was read now and ``silent`` swallowed its import error, else True.
        """
        with self._lock:
            self._source_spec = (obj, silent)
            if namespace is not None:
                self._namespace = namespace
                self._names = {}
            now = force or self._loaded
            if now:
                self._loaded = False
            self._changed()
        if now:
            self._ensure_loaded()
            return self._source_ok
        return True

    def config_from_envvar(self, variable_name: str, silent: bool = False, force: bool = False) -> bool:
        """Load the module named by environment variable ``variable_name``.

        Raises:
            ImproperlyConfigured: the variable is unset or empty (unless ``silent``, then False).
        """
        module_name = os.environ.get(variable_name)
        if not module_name:
            if silent:
                return False
            raise ImproperlyConfigured(f"Environment variable {variable_name!r} (the config module) is not set.")
        return self.config_from_object(module_name, silent=silent, force=force)

    def add_defaults(self, defaults: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> None:
        """Add lowest-precedence defaults: a mapping, or a callable returning one (called at load)."""
        with self._lock:
            self._extra_defaults.append(defaults)
            if self._loaded:
                self._added.update(self._resolve_defaults(defaults))
            self._changed()

    def finalize(self) -> Settings:
        """Read the configuration now (normally it happens on the first read)."""
        self._ensure_loaded()
        return self

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._load()
            self._loaded = True
            self._changed()
        if self._on_configure is not None:
            self._on_configure(self)

    def _load(self) -> None:
        raw = self._read_source()
        if not self._namespace:
            check_mixing(raw if self._source_ok else self._early.keys() - self._auto_keys)
        self._raw = raw
        self._source = _translate(raw, self._namespace)
        self._spellings = {}
        self._explicit = {self._canonical(key): value for key, value in self._early.items()}
        self._changes = {}
        self._added = {}
        for extra in self._extra_defaults:
            self._added.update(self._resolve_defaults(extra))
        self._defaults = deepcopy(DEFAULTS)

    def _read_source(self) -> dict[str, Any]:
        self._source_ok, self._live = False, None
        if self._source_spec is None:
            return {}
        target, silent = self._source_spec
        try:
            obj = load_object(target)
        except (ImportError, AttributeError):
            if silent:
                return {}
            raise
        self._source_ok, self._live = True, _live_reader(obj)
        return _as_dict(obj)

    def _source_keys(self, name: str) -> tuple[str, ...]:
        """The keys that spell setting ``name`` in the source, in the order :func:`_classify` ranks them."""
        keys = self._spellings.get(name)
        if keys is None:
            prefix = _prefix(self._namespace)
            prefixed = ((prefix + name.upper() if prefix.isupper() else prefix + name),) if prefix else ()
            old = (NEW_TO_OLD[name],) if name in NEW_TO_OLD else ()
            keys = self._spellings[name] = (*prefixed, name, *old)
        return keys

    def _from_source(self, name: str) -> Any:
        """Setting ``name`` as the source holds it now (``_MISSING`` if it does not): read live, not from
        the load's snapshot, so a test's ``override_settings`` is seen while it lasts."""
        read = self._live
        if read is None:
            return _MISSING
        keys = self._source_keys(name) if name in SETTING_NAMES else self._raw_candidates(name)
        for key in keys:
            if not key.startswith("_"):
                value = read(key, _MISSING)
                if value is not _MISSING:
                    return value
        return _MISSING

    def _resolve_defaults(self, defaults: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> dict[str, Any]:
        values = defaults() if callable(defaults) else defaults
        return {self._canonical(key): value for key, value in values.items()}

    # --- mapping protocol ------------------------------------------------------------------------

    def _canonical(self, key: str) -> str:
        """The setting name of ``key``; remembered, since every publish reads a dozen settings."""
        name = self._names.get(key)
        if name is None:
            name = _classify(key, self._namespace)[0] or key
            if len(self._names) < 4096:  # keys are names written in code; a bound all the same
                self._names[key] = name
        return name

    def _raw_candidates(self, key: str) -> list[str]:
        prefix = _prefix(self._namespace)
        if not prefix:
            return [key]
        prefixed = prefix + key
        return [key, prefixed.upper() if prefix.isupper() else prefixed]

    def __getitem__(self, key: str) -> Any:
        if not self._loaded:
            self._ensure_loaded()
        name = self._canonical(key)
        for layer in (self._changes, self._explicit):
            if name in layer:
                return layer[name]
        value = self._from_source(name if name in SETTING_NAMES else key)
        if value is not _MISSING:
            return value
        for layer in (self._added, self._defaults):
            if name in layer:
                return layer[name]
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        with self._lock:
            if self._loaded:
                self._changes[self._canonical(key)] = value
            else:
                self._early.pop(key, None)
                self._early[key] = value
            self._changed()

    def __delitem__(self, key: str) -> None:
        self._ensure_loaded()
        name = self._canonical(key)
        with self._lock:
            found = [layer.pop(name) for layer in (self._changes, self._explicit) if name in layer]
            for early_key in [k for k in self._early if self._canonical(k) == name]:
                found.append(self._early.pop(early_key))
            self._changed()
        if not found:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        self._ensure_loaded()
        names = dict.fromkeys(self._defaults)
        names.update(dict.fromkeys(self._added))
        names.update(dict.fromkeys(k for k in self._raw if _classify(k, self._namespace)[0] is None))
        for layer in (self._source, self._explicit, self._changes):
            names.update(dict.fromkeys(layer))
        return iter(list(names))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    # --- attribute access --------------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        derive = _DERIVED.get(self._canonical(name))
        if derive is not None:
            return derive(self)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no setting named {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __repr__(self) -> str:
        return f"<Settings {'configured' if self._loaded else 'pending'} namespace={self._namespace!r}>"

    # --- introspection -----------------------------------------------------------------------------

    @property
    def changes(self) -> dict[str, Any]:
        """Values written through ``conf`` (constructor included), under their new names."""
        with self._lock:
            if not self._loaded:
                return {self._canonical(key): value for key, value in self._early.items()}
            return {**self._explicit, **self._changes}

    def without_defaults(self) -> dict[str, Any]:
        """Everything set by the source, through ``conf`` or by ``add_defaults`` (Celery's built-in defaults left
        out; Celery's ``without_defaults`` keeps the added layers too)."""
        self._ensure_loaded()
        values = dict(self._added)
        values.update((k, v) for k, v in self._raw.items() if _classify(k, self._namespace)[0] is None)
        values.update(self._source)
        values.update(self._explicit)
        values.update(self._changes)
        return values

    def deprecated_keys(self) -> list[str]:
        """The old (Celery <= 3.1) setting names the source or the constructor spells, sorted."""
        self._ensure_loaded()
        return sorted(key for key in (*self._raw, *self._early) if key in OLD_TO_NEW)

    def table(self, with_defaults: bool = False, censored: bool = True) -> dict[str, Any]:
        """Settings as a dict (secrets and URL passwords masked unless ``censored=False``).

        ``deprecated_settings`` lists the old-style keys in use: Celery keeps it among the settings, so its
        ``inspect conf`` and bug report show it."""
        values = dict(self.items()) if with_defaults else self.without_defaults()
        values["deprecated_settings"] = self.deprecated_keys()
        if not censored:
            return values
        return {key: _censor(key, value) for key, value in values.items()}

    def humanize(self, with_defaults: bool = False, censored: bool = True) -> str:
        """``key: value`` lines of :meth:`table`, for logs and ``inspect conf``."""
        return "\n".join(f"{key}: {value!r}" for key, value in self.table(with_defaults, censored).items())

    def effective(self) -> EffectiveSettings:
        """The settings taskora acts on, resolved (environment overrides applied) to plain values."""
        return resolve(self)
