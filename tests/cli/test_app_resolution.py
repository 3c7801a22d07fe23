"""``-A`` resolution, the lazy command group, hostnames and ``-B`` without a scheduler (in-process)."""

from __future__ import annotations

import socket
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from taskora import Taskora
from taskora.cli import LazyGroup
from taskora.cli._app import load_app
from taskora.cli._output import AppLoadError, CliError
from taskora.cli._process import expand_hostname
from taskora.cli.worker import load_beat


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write throwaway modules under a fresh import root; forget them afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(relpath: str, source: str) -> None:
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        written.append(relpath.removesuffix(".py").removesuffix("/__init__").replace("/", "."))

    yield write
    for name in list(sys.modules):
        if any(name == w or name.startswith(w + ".") for w in written):
            del sys.modules[name]


def test_module_attr_and_default_names(modules) -> None:
    modules("ra_one.py", "from taskora import Taskora\nmain = Taskora(name='one')\napp = Taskora(name='app')\n")
    assert load_app("ra_one:main").app.name == "one"
    assert load_app("ra_one").app.name == "app"  # `app` wins when no attribute is named


def test_single_instance_factory_and_package_celery_module(modules) -> None:
    modules("ra_two.py", "from taskora import Taskora\nthing = Taskora(name='only')\n")
    modules("ra_three.py", "from taskora import Taskora\ndef create():\n    return Taskora(name='made')\n")
    modules("ra_pkg/__init__.py", "")
    modules("ra_pkg/celery.py", "from taskora import Taskora\nqueue_app = Taskora(name='pkg')\n")
    assert load_app("ra_two").app.name == "only"
    assert load_app("ra_three:create").app.name == "made"
    assert load_app("ra_pkg").app.name == "pkg"


def test_front_end_objects_via_taskora_app_dunder(modules) -> None:
    modules("ra_front.py", """
        from taskora import Taskora
        class Front:
            def __init__(self):
                self._inner = Taskora(name='inner')
                self.inits = []
            def __taskora_app__(self):
                return self._inner
            def __taskora_worker_init__(self, **info):
                self.inits.append(info)
        celery = Front()
    """)
    loaded = load_app("ra_front")
    assert isinstance(loaded.app, Taskora) and loaded.app.name == "inner"
    loaded.worker_init(hostname="h", pool="solo", concurrency=1)
    assert loaded.source.inits == [{"hostname": "h", "pool": "solo", "concurrency": 1}]


def test_errors_name_what_is_wrong(modules) -> None:
    modules("ra_bad.py", "import no_such_dependency_here\n")
    modules("ra_none.py", "value = 3\n")
    cases = {"ra_missing_mod": "no module named 'ra_missing_mod'",
             "ra_bad": "importing 'ra_bad' failed: ModuleNotFoundError",
             "ra_none.nothing": "module 'ra_none' has no attribute 'nothing', and there is no module",
             "ra_missing_mod.celery": "no module named 'ra_missing_mod'",
             "ra_none": "no app found",
             "ra_none:value": "'value' is int"}
    for spec, message in cases.items():
        with pytest.raises(AppLoadError, match=message):
            load_app(spec)


def test_dotted_attribute_as_flask_tutorials_write_it(modules) -> None:
    # -A app.celery: `app` is a module holding a Flask-like `app` object and the Celery-style `celery` app
    modules("ra_flask.py", "from taskora import Taskora\napp = object()\ncelery = Taskora(name='flaskish')\n")
    modules("ra_worker/__init__.py", "")
    modules("ra_worker/tasks.py", "from taskora import Taskora\nqueue = Taskora(name='dotted-module')\n")
    assert load_app("ra_flask.celery").app.name == "flaskish"
    assert load_app("ra_flask").app.name == "flaskish"  # the non-app `app` is skipped, `celery` found
    assert load_app("ra_worker.tasks").app.name == "dotted-module"  # no attribute `tasks`: the module


def test_module_attribute_that_is_a_module_is_searched(modules) -> None:
    modules("ra_nest/__init__.py", "from . import inner\n")
    modules("ra_nest/inner.py", "from taskora import Taskora\ncelery = Taskora(name='inner-celery')\n")
    modules("ra_first.py", "from taskora import Taskora\nx = Taskora(name='first')\ny = Taskora(name='second')\n")
    assert load_app("ra_nest.inner").app.name == "inner-celery"
    assert load_app("ra_nest:inner").app.name == "inner-celery"
    assert load_app("ra_first").app.name == "first"  # Celery takes the first instance among the globals


def test_app_from_the_environment(modules, monkeypatch: pytest.MonkeyPatch) -> None:
    modules("ra_env.py", "from taskora import Taskora\ncelery = Taskora(name='from-env')\n")
    monkeypatch.delenv("TASKORA_APP", raising=False)
    monkeypatch.setenv("CELERY_APP", "ra_env.celery")  # what Celery's click reads when -A is not given
    assert load_app(None).app.name == "from-env"


def test_hostname_expansions() -> None:
    full = socket.gethostname()
    host, _, domain = full.partition(".")
    assert expand_hostname("w1@%h") == f"w1@{full}"
    assert expand_hostname("%n.%d|%i|100%%") == f"{host}.{domain}|0|100%"


def test_lazy_group_isolates_a_broken_subcommand() -> None:
    group = LazyGroup("root", lazy={"good": "click:echo", "broken": "taskora.cli.no_such_module:cmd"})
    group.add_command(click.Command("plain", callback=lambda: click.echo("plain ran")))
    runner = CliRunner()
    assert runner.invoke(group, ["plain"]).output == "plain ran\n"
    broken = runner.invoke(group, ["broken"])
    assert broken.exit_code == 1 and "'broken' is not available" in broken.output


def test_beat_without_scheduler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "taskora.scheduler.runner", None)  # import now fails
    with pytest.raises(CliError, match="scheduler is not available"):
        load_beat(Taskora())
