"""App patterns real Celery projects use (issue #15): tasks made from a function passed with options,
``app.Task = ContextTask`` (Flask's ``make_celery``), task names the engine cannot key, and Django's
``DjangoTask`` methods existing only under Django."""

from __future__ import annotations

import pytest
from taskora.compat import Celery, shared_task
from taskora.compat.app.task import Task
from taskora.compat.exceptions import ImproperlyConfigured


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    app = Celery("patterns", broker="memory://", task_always_eager=True)
    yield app
    app.close()


# --- a function passed positionally, with options -------------------------------------------------------


def test_app_task_with_the_function_and_options(app: Celery) -> None:
    def add(x, y):
        return x + y

    task = app.task(add, name="custom.add", ignore_result=True)
    assert task.name == "custom.add" and task.ignore_result is True
    assert app.tasks["custom.add"] is task and task.delay(2, 3).get() == 5


def test_shared_task_with_the_function_and_options(app: Celery) -> None:
    def mul(x, y):
        return x * y

    proxy = shared_task(mul, name="custom.mul", bind=False)
    assert proxy.name == "custom.mul" and proxy.delay(2, 4).get() == 8
    assert app.tasks["custom.mul"].run(3, 3) == 9


def test_task_refuses_a_non_callable_or_two_positional_arguments(app: Celery) -> None:
    with pytest.raises(TypeError, match="must be a callable"):
        app.task("add", name="x")
    with pytest.raises(TypeError, match="exactly 1 argument"):
        app.task(len, len)
    with pytest.raises(TypeError, match="exactly 1 argument"):
        shared_task(len, len)


# --- app.Task = ContextTask --------------------------------------------------------------------------------


def test_assigning_app_task_makes_it_the_base_of_later_tasks(app: Celery) -> None:
    calls = []

    class ContextTask(app.Task):
        def __call__(self, *args, **kwargs):
            calls.append(self.name)
            return self.run(*args, **kwargs)

    app.Task = ContextTask
    assert app.Task is ContextTask

    @app.task
    def hello(who):
        return f"hello {who}"

    assert isinstance(hello, ContextTask)
    assert hello.delay("ann").get() == "hello ann" and calls == [hello.name]


def test_deleting_app_task_restores_the_default_base(app: Celery) -> None:
    class Custom(app.Task):
        pass

    app.Task = Custom
    del app.Task
    assert app.Task is not Custom and issubclass(app.Task, Task) and app.Task._app is app


def test_app_task_must_be_a_task_class(app: Celery) -> None:
    with pytest.raises(TypeError, match="Task subclass"):
        app.Task = object


# --- names the engine cannot key ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["report{daily}", "tasks.}", "{tag}.add"])
def test_brace_in_a_task_name_is_refused_at_decoration_naming_the_task(app: Celery, name: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="hash tag") as info:
        @app.task(name=name)
        def report():
            return 1

    assert repr(name) in str(info.value)
    assert name not in app.tasks


def test_a_refused_name_leaves_the_other_tasks_working(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    app = Celery("braces", broker=redis_url)
    try:
        @app.task
        def good(x):
            return x

        with pytest.raises(ImproperlyConfigured):
            app.task(lambda: 1, name="bad{x}")
        result = good.delay(1)  # published on real Redis: the engine never saw the bad name
        assert app.AsyncResult(result.id).state == "PENDING"
    finally:
        app.close()


def test_brace_in_a_shared_task_or_class_task_name_is_refused(app: Celery) -> None:
    with pytest.raises(ImproperlyConfigured, match="bad}"):
        shared_task(name="bad}")(lambda: 1)

    class Braced(Task):
        name = "x{1}"

    with pytest.raises(ImproperlyConfigured, match="x\\{1\\}"):
        app.register_task(Braced)
    assert "x{1}" not in app.tasks


# --- DjangoTask ----------------------------------------------------------------------------------------------


def test_outside_django_tasks_have_no_on_commit_methods(app: Celery) -> None:
    @app.task
    def plain():
        return 1

    assert not hasattr(plain, "delay_on_commit") and not hasattr(plain, "apply_async_on_commit")


def test_under_django_settings_tasks_are_django_tasks_unless_task_cls_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("django")
    from taskora.compat.contrib.django.task import DjangoTask

    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "proj.settings")  # read at app creation, as Celery's fixup does
    django_app = Celery("dj", broker="memory://")
    custom_app = Celery("dj2", broker="memory://", task_cls=Task)
    try:
        assert issubclass(django_app.Task, DjangoTask) and not issubclass(custom_app.Task, DjangoTask)
        assert callable(django_app.task(lambda: 1, name="dj.one").delay_on_commit)
    finally:
        django_app.close()
        custom_app.close()


def test_send_task_and_registry_refuse_a_brace_name_naming_it(app: Celery) -> None:
    with pytest.raises(ImproperlyConfigured, match="'remote\\{1\\}'"):
        app.send_task("remote{1}", args=(1,))

    class Braced(Task):
        name = "reg{x}"

    with pytest.raises(ImproperlyConfigured, match="reg"):
        app.tasks.register(Braced)
    assert "reg{x}" not in app.tasks
