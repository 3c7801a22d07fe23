"""Retention settings for worker tests that read back every result of a large batch."""

#: Keeps every completed job readable: by default only the last 100 are, and on a loaded machine the test's
#: thread, reading results one by one, falls that far behind the slots before retention's sweep runs.
KEEP_EVERY_RESULT = {"completed": {"max_items": 100_000}}
