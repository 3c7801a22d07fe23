"""The ``taskora`` command line (filled in by the CLI work)."""


def main() -> None:  # replaced by the click group
    raise SystemExit("taskora: the command line is not built yet")
