"""An app's fix-ups (``Celery(fixups=...)``, by default Celery's Django one) and its task class choice."""

from __future__ import annotations

import pytest
from taskora.compat import Celery
from taskora.compat.app.task import Task
from taskora.compat.fixups.django import DjangoFixup

made: list[object] = []


def recording_fixup(app: Celery) -> object:
    """A fix-up named by string in the tests below."""
    made.append(app)
    return ("fixed", app)


class CustomTask(Task):
    abstract = True


@pytest.fixture
def django_env(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("django")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "proj.settings")  # read at app creation, as Celery's fix-up does


def test_fixups_given_by_name_or_callable_are_called_with_the_app_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    made.clear()
    app = Celery("fx", broker="memory://", fixups=["tests.compat.test_app_fixups:recording_fixup",
                                                   "celery.fixups.django:fixup", recording_fixup])
    try:
        assert made == [app, app]
        assert app._fixups == [("fixed", app), ("fixed", app)]  # the Django one declined: no DJANGO_SETTINGS_MODULE
    finally:
        app.close()


def test_under_django_the_default_fixups_install_the_django_fixup_and_djangotask(django_env: None) -> None:
    from taskora.compat.contrib.django.task import DjangoTask

    class MyCelery(Celery):
        pass

    apps = [Celery("dj", broker="memory://"), MyCelery("dj2", broker="memory://")]
    try:
        for app in apps:
            assert [type(f) for f in app._fixups] == [DjangoFixup] and app._fixups[0].app is app
            assert issubclass(app.Task, DjangoTask)
    finally:
        for app in apps:
            app.close()


def test_a_task_class_chosen_by_the_project_is_kept_under_django(django_env: None) -> None:
    from taskora.compat.contrib.django.task import DjangoTask

    class WithClassAttribute(Celery):
        task_cls = CustomTask

    apps = [WithClassAttribute("a", broker="memory://"), Celery("b", broker="memory://", task_cls=CustomTask),
            Celery("c", broker="memory://", fixups=[])]
    try:
        assert [issubclass(app.Task, CustomTask) for app in apps] == [True, True, False]
        assert not any(issubclass(app.Task, DjangoTask) for app in apps)
        assert apps[2]._fixups == []
    finally:
        for app in apps:
            app.close()


def test_a_failing_import_modules_receiver_stops_the_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """As Celery's loader: a fix-up that cannot set its framework up (``django.setup()`` raising) stops the
    worker's start with that error instead of a later, unrelated import error."""
    from taskora.compat import signals

    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    app = Celery("fx", broker="memory://")

    def broken_setup(sender=None, **kwargs):
        raise LookupError("settings module 'nowhere.settings' not found")

    signals.import_modules.connect(broken_setup, sender=app, weak=False)
    try:
        with pytest.raises(LookupError, match="nowhere.settings"):
            app.loader.import_default_modules()
        with pytest.raises(LookupError, match="nowhere.settings"):
            app.Worker(pool="solo")
    finally:
        signals.import_modules.disconnect(broken_setup, sender=app)
        app.close()


def test_a_django_fixup_acts_on_its_own_apps_tasks_until_its_app_closes(django_env: None) -> None:
    from taskora.compat import signals

    mine_app, other_app = Celery("dj", broker="memory://"), Celery("other", broker="memory://")
    closed: list[str] = []
    worker_fixup = mine_app._fixups[0].worker_fixup
    worker_fixup.close_database = lambda **kwargs: closed.append("database")  # no Django database in this test
    worker_fixup.close_cache = lambda: None
    try:
        worker_fixup.install()
        closed.clear()
        mine = mine_app.task(name="fx.mine")(lambda: None)
        theirs = other_app.task(name="fx.theirs")(lambda: None)
        signals.task_postrun.send(sender=theirs, task_id="1", task=theirs)
        assert closed == []
        signals.task_postrun.send(sender=mine, task_id="2", task=mine)
        assert closed == ["database"]
        mine_app.close()
        signals.task_postrun.send(sender=mine, task_id="3", task=mine)
        assert closed == ["database"], "a closed app's fix-up still acted"
    finally:
        mine_app.close()
        other_app.close()
