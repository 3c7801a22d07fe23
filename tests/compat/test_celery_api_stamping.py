# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""Canvas stamping (``StampingVisitor``, ``Signature.stamp``) reaching ``self.request`` on a real worker."""

from __future__ import annotations

import pytest
from taskora.compat import chain, chord, group, signature
from taskora.compat.canvas import StampingVisitor

from .celery_helpers import make_celery, wait_until  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def running(make_celery):
    app = make_celery()
    seen = {}

    @app.task(bind=True, name="st.add")
    def add(self, x, y):
        seen.setdefault(self.request.id, self.request)
        return x + y

    @app.task(bind=True, name="st.tsum")
    def tsum(self, values):
        seen.setdefault(self.request.id, self.request)
        return sum(values)

    app.__taskora_app__.start(concurrency=2)
    return app, seen


class SignatureStamper(StampingVisitor):
    def on_signature(self, sig, **headers):
        return {"on_signature": "stamped"}


class GroupAndCallbackStamper(SignatureStamper):
    def on_group_start(self, group, **headers):
        return {"group_stamp": "g"}

    def on_callback(self, callback, **headers):
        return {"on_callback": True}


def test_headers_stamped_on_a_signature_reach_the_request(running):
    app, seen = running
    sig = signature("st.add", args=(1, 2), app=app).stamp(tenant="acme")
    assert sig.options["tenant"] == "acme" and sig.options["stamped_headers"] == ["tenant"]
    result = sig.apply_async()
    assert result.get(timeout=10) == 3
    request = seen[result.id]
    assert request.stamped_headers == ["tenant"] and request.stamps == {"tenant": "acme"}


def test_a_visitor_stamps_every_step_of_a_chain_of_a_group(running):
    app, seen = running
    canvas = chain(group(signature("st.add", (1, 1), app=app), signature("st.add", (2, 2), app=app)),
                   signature("st.tsum", app=app))
    canvas.stamp(visitor=GroupAndCallbackStamper())
    result = canvas.apply_async()
    assert result.get(timeout=15) == 6
    assert len(seen) == 3
    members = [r for r in seen.values() if r.task == "st.add"]
    assert all(r.stamps == {"on_signature": "stamped", "group_stamp": "g"} for r in members)
    [body] = [r for r in seen.values() if r.task == "st.tsum"]
    assert body.stamps == {"on_signature": "stamped", "group_stamp": "g"}  # a chord body gets the header's stamps


def test_a_visitor_stamps_each_step_of_a_plain_chain(running):
    app, seen = running
    canvas = chain(signature("st.add", (1, 1), app=app), signature("st.add", (5,), app=app))
    canvas.stamp(visitor=GroupAndCallbackStamper(), run="r2")
    assert canvas.apply_async().get(timeout=15) == 7
    assert [r.stamps for r in seen.values()] == [{"on_signature": "stamped", "run": "r2"}] * 2


def test_chord_header_and_body_are_stamped(running):
    app, seen = running
    canvas = chord([signature("st.add", (1, 2), app=app)], signature("st.tsum", app=app))
    canvas.stamp(visitor=SignatureStamper(), run="r1")
    assert canvas.apply_async().get(timeout=15) == 3
    assert {r.task: r.stamps["run"] for r in seen.values()} == {"st.add": "r1", "st.tsum": "r1"}
    assert all(r.stamps["on_signature"] == "stamped" for r in seen.values())


def test_links_are_stamped_by_on_callback(running):
    app, seen = running
    sig = signature("st.add", (1, 2), app=app)
    sig.link(signature("st.add", (10,), app=app))
    sig.stamp(visitor=GroupAndCallbackStamper())
    [callback] = sig.options["link"]
    assert callback.options["on_callback"] is True and "on_callback" in callback.options["stamped_headers"]
    assert sig.apply_async().get(timeout=10) == 3
    wait_until(lambda: len(seen) == 2, 10, "the stamped callback to run")
    [callback_request] = [r for r in seen.values() if r.args == [3, 10]]
    assert callback_request.stamps["on_callback"] is True


def test_restamping_replaces_and_append_stamps_keeps_both_values(make_celery):
    app = make_celery()
    sig = signature("st.add", (1, 2), app=app).stamp(k="one")
    sig.stamp(k="two")
    assert sig.options["k"] == "two"
    sig.stamp(append_stamps=True, k="three")
    assert sig.options["k"] == ["three", "two"] and sig.options["stamped_headers"] == ["k"]


def test_a_visitor_without_on_signature_names_what_is_missing(make_celery):
    app = make_celery()
    with pytest.raises(NotImplementedError, match="on_signature"):
        signature("st.add", (1, 2), app=app).stamp(visitor=StampingVisitor())


def test_signature_args_kwargs_and_options_are_settable(make_celery):
    app = make_celery()
    sig = signature("st.add", (1, 2), app=app)
    sig.args = [5, 6]
    sig.kwargs = {"z": 1}
    sig.options = {"countdown": 3}
    assert sig.args == (5, 6) and sig["args"] == (5, 6) and sig.kwargs == {"z": 1} and sig.options == {"countdown": 3}


def test_revoke_by_stamped_headers_cancels_only_the_matching_waiting_jobs(make_celery):
    from taskora.compat import states

    app = make_celery()

    @app.task(name="st.slow")
    def slow(x):
        return x

    blue = signature("st.slow", (1,), app=app).stamp(colour="blue").apply_async()
    listed = signature("st.slow", (2,), app=app).stamp(colour=["red", "green"]).apply_async()
    plain = signature("st.slow", (3,), app=app).apply_async()
    cancelled = app.control.revoke_by_stamped_headers({"colour": ["blue", "green"]})
    assert sorted(cancelled) == sorted([blue.id, listed.id])
    assert blue.state == states.REVOKED and listed.state == states.REVOKED and plain.state == states.PENDING
    with pytest.raises(ValueError, match="dict of stamps"):
        app.control.revoke_by_stamped_headers({})
