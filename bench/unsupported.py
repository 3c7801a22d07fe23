"""``Unsupported``: a scenario a library cannot do, shown as a note in its cell rather than an error.

A driver raises it (no bulk enqueue, no thread pool, no result to wait for); the scenario child
reports it as ``{"unsupported": reason}`` and the table prints the reason instead of a number.
"""


class Unsupported(Exception):
    """The library has no way to do what this scenario measures; the message says what is missing."""
