"""Worker tests share the CLI tests' fixtures: a client app and a factory of worker subprocesses."""

from ..cli.conftest import client, start_worker  # noqa: F401 - fixtures
