"""Celery's state constants/precedence and exception hierarchy, as Celery code relies on them."""

from __future__ import annotations

import builtins
import pickle

import kombu.exceptions
import pytest
from taskora.compat import exceptions as exc
from taskora.compat import states

from taskora import errors as native

# --- states -------------------------------------------------------------------------------------


def test_state_constants_are_celerys_strings() -> None:
    names = ["PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "REVOKED", "REJECTED", "RETRY", "IGNORED"]
    assert [getattr(states, n) for n in names] == names


def test_state_sets_match_celery() -> None:
    assert states.READY_STATES == {"SUCCESS", "FAILURE", "REVOKED"}
    assert states.UNREADY_STATES == {"PENDING", "RECEIVED", "STARTED", "REJECTED", "RETRY"}
    assert states.EXCEPTION_STATES == {"RETRY", "FAILURE", "REVOKED"}
    assert states.PROPAGATE_STATES == {"FAILURE", "REVOKED"}
    assert states.ALL_STATES == {"PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED"}
    assert "IGNORED" not in states.ALL_STATES and "REJECTED" not in states.ALL_STATES


def test_precedence_order_and_custom_states() -> None:
    order = ["SUCCESS", "FAILURE", "REVOKED", "STARTED", "RECEIVED", "REJECTED", "RETRY", "PENDING"]
    indexes = [states.precedence(s) for s in order]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    # Custom states sit between FAILURE and REVOKED.
    custom = states.precedence("PROGRESS")
    assert custom == states.NONE_PRECEDENCE
    assert states.precedence("FAILURE") < custom < states.precedence("REVOKED")


def test_state_compares_by_precedence_not_alphabetically() -> None:
    assert states.state("SUCCESS") > states.state("PENDING")  # alphabetically "S" > "P" too…
    assert states.state("FAILURE") > states.state("RETRY")  # …but here "F" < "R"
    assert states.state("PROGRESS") > states.state("STARTED")
    assert states.state("PENDING") < states.state("STARTED")
    assert states.state("RETRY") <= states.state("RETRY") and states.state("RETRY") >= "RETRY"
    assert states.state("SUCCESS") == "SUCCESS" and hash(states.state("SUCCESS")) == hash("SUCCESS")


# --- exceptions: Celery's hierarchy ------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (exc.TaskPredicate, (exc.CeleryError,)),
        (exc.Retry, (exc.TaskPredicate,)),
        (exc.Ignore, (exc.TaskPredicate,)),
        (exc.Reject, (exc.TaskPredicate,)),
        (exc.TaskError, (exc.CeleryError,)),
        (exc.MaxRetriesExceededError, (exc.TaskError,)),
        (exc.TimeoutError, (exc.TaskError,)),
        (exc.TaskRevokedError, (exc.TaskError,)),
        (exc.ChordError, (exc.TaskError,)),
        (exc.InvalidTaskError, (exc.TaskError,)),
        (exc.IncompleteStream, (exc.TaskError,)),
        (exc.AlreadyRegistered, (exc.TaskError,)),
        (exc.NotRegistered, (KeyError, exc.TaskError)),
        (exc.QueueNotFound, (KeyError, exc.TaskError)),
        (exc.ImproperlyConfigured, (exc.CeleryError,)),
        (exc.SecurityError, (exc.CeleryError,)),
        (exc.BackendGetMetaError, (exc.BackendError,)),
        (exc.BackendStoreError, (exc.BackendError,)),
        (exc.WorkerShutdown, (SystemExit,)),
        (exc.WorkerTerminate, (SystemExit,)),
        (exc.AlwaysEagerIgnored, (exc.CeleryWarning, UserWarning)),
        (exc.CDeprecationWarning, (DeprecationWarning,)),
        (exc.CPendingDeprecationWarning, (PendingDeprecationWarning,)),
    ],
)
def test_celery_hierarchy_is_kept(cls: type, bases: tuple[type, ...]) -> None:
    for base in bases:
        assert issubclass(cls, base), f"{cls.__name__} must subclass {base.__name__}"


def test_aliases() -> None:
    assert exc.RetryTaskError is exc.Retry
    assert exc.SystemTerminate is exc.WorkerTerminate


def test_timeout_error_is_not_the_builtin_but_is_taskoras() -> None:
    assert exc.TimeoutError is not builtins.TimeoutError
    assert not issubclass(exc.TimeoutError, builtins.TimeoutError)
    assert issubclass(exc.TimeoutError, native.TimeoutError)


def test_soft_time_limit_is_caught_by_except_exception() -> None:
    caught = None
    try:
        raise exc.SoftTimeLimitExceeded()
    except Exception as e:  # the broad handler Celery users write
        caught = e
    assert isinstance(caught, exc.SoftTimeLimitExceeded)
    assert not issubclass(exc.SoftTimeLimitExceeded, exc.CeleryError)  # billiard's, not Celery's
    assert not issubclass(exc.SoftTimeLimitExceeded, exc.TimeoutError)
    # the worker raises taskora's classes: the Celery names are those very classes
    assert exc.SoftTimeLimitExceeded is native.SoftTimeLimitExceeded
    assert exc.TimeLimitExceeded is native.TimeLimitExceeded


@pytest.mark.parametrize(
    ("instance", "native_cls"),
    [
        (exc.CeleryError("x"), native.TaskoraError),
        (exc.ImproperlyConfigured("x"), native.ConfigurationError),
        (exc.TaskRevokedError("revoked"), native.CancelledError),
        (exc.Terminated(15), native.CancelledError),
        (exc.NotRegistered("proj.add"), native.UnknownTaskError),
        (exc.SoftTimeLimitExceeded(), native.TaskoraError),
        (exc.TimeLimitExceeded(5), native.TaskoraError),
        (exc.WorkerLostError("signal 9"), native.StalledError),
        (exc.OperationalError("down"), native.BrokerUnreachableError),
        (exc.EncodeError("bad"), native.SerializationError),
        (exc.DecodeError("bad"), native.SerializationError),
    ],
)
def test_compat_errors_are_native_errors_where_meaning_matches(instance: Exception, native_cls: type) -> None:
    assert isinstance(instance, native_cls)


def test_kombu_names_catch_compat_errors() -> None:
    with pytest.raises(kombu.exceptions.OperationalError):
        raise exc.OperationalError("Error 111 connecting to localhost:6379")
    with pytest.raises(kombu.exceptions.EncodeError):
        raise exc.EncodeError("Object of type object is not JSON serializable")
    with pytest.raises(kombu.exceptions.DecodeError):
        raise exc.DecodeError("bad payload")
    assert not issubclass(exc.OperationalError, exc.CeleryError)  # kombu's in Celery


def test_revoked_error_keeps_celerys_free_form_message() -> None:
    err = exc.TaskRevokedError("expired")
    assert str(err) == "expired" and err.args == ("expired",)


def test_not_registered_is_a_keyerror_with_celerys_str() -> None:
    with pytest.raises(KeyError):
        raise exc.NotRegistered("proj.tasks.missing")
    err = exc.NotRegistered("proj.tasks.missing")
    assert str(err) == "'proj.tasks.missing'"
    assert "proj.tasks.missing" in repr(err) and "not registered" in repr(err)


# --- exceptions: constructors and attributes -----------------------------------------------------


def test_retry_attributes_and_message() -> None:
    cause = ValueError("x")
    retry = exc.Retry(exc=cause, when=180)
    assert retry.exc is cause and retry.when == 180 and retry.message is None
    assert retry.excs == "ValueError('x')"
    assert str(retry) == "Retry in 180s: ValueError('x')"
    assert str(exc.Retry(when=5)) == "Retry in 5s"
    assert str(exc.Retry("custom message", exc=cause)) == "custom message"
    assert str(exc.Retry(when="2026-01-01T00:00:00")) == "Retry at 2026-01-01T00:00:00"


def test_retry_with_string_exc_and_sig() -> None:
    sentinel = object()
    retry = exc.Retry(exc="boom", sig=sentinel, is_eager=True)
    assert retry.exc is None and retry.excs == "boom" and retry.sig is sentinel and retry.is_eager


def test_retry_and_max_retries_survive_pickling() -> None:
    retry = pickle.loads(pickle.dumps(exc.Retry(exc=KeyError("k"), when=3)))
    assert isinstance(retry.exc, KeyError) and retry.when == 3 and str(retry) == "Retry in 3s: KeyError('k')"
    err = exc.MaxRetriesExceededError("Can't retry", task_args=[1, 2], task_kwargs={"a": 1})
    copy = pickle.loads(pickle.dumps(err))
    assert copy.args == ("Can't retry",) and copy.task_args == [1, 2] and copy.task_kwargs == {"a": 1}


def test_max_retries_defaults() -> None:
    err = exc.MaxRetriesExceededError()
    assert err.task_args == [] and err.task_kwargs == {}


def test_reject_attributes() -> None:
    reject = exc.Reject("no space", requeue=True)
    assert reject.reason == "no space" and reject.requeue is True
    assert repr(reject) == "reject requeue=True: no space"
    assert exc.Reject().requeue is False


def test_backend_errors_keep_task_id_and_state() -> None:
    get_err = exc.BackendGetMetaError("read failed", task_id="t1")
    store_err = exc.BackendStoreError("write failed", state="SUCCESS", task_id="t2")
    assert get_err.task_id == "t1" and str(get_err) == "read failed"
    assert (store_err.state, store_err.task_id) == ("SUCCESS", "t2")


def test_reraise_uses_given_traceback() -> None:
    try:
        raise ValueError("inner")
    except ValueError as caught:
        err, tb = caught, caught.__traceback__
    with pytest.raises(ValueError, match="inner") as info:
        exc.reraise(ValueError, err, tb)
    assert info.value is err


def test_command_exception_carries_exit_code() -> None:
    err = exc.CeleryCommandException("no nodes replied", exit_code=69)
    assert err.exit_code == 69 and err.format_message() == "no nodes replied"


def test_every_public_name_exists() -> None:
    missing = [name for name in exc.__all__ if not hasattr(exc, name)]
    assert missing == []
