"""Random identifiers: job ids and lock tokens, made on every dispatch and every claim.

Job ids come from a generator of this module's own, seeded from ``os.urandom`` at import and again in
every forked child: ``os.urandom`` is a system call per id, and ``uuid.uuid4()`` also builds a UUID object
and formats it (together a few microseconds of a dispatch that costs about twenty in Python). The
generator is private, so an application's ``random.seed(...)`` cannot make two processes draw the same
ids. Job ids need to be unique, not secret: anyone who could use a guessed id already writes to Redis.
Lock tokens prove which claim holds a job, so they stay ``os.urandom``'s.
"""

from __future__ import annotations

import os
import random

_ids = random.Random()  # seeded from os.urandom
if hasattr(os, "register_at_fork"):  # a forked child must not repeat its parent's ids
    os.register_at_fork(after_in_child=_ids.seed)

#: RFC 4122 version 4: four version bits 0100, two variant bits 10; the other 122 bits random.
_KEEP = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_SET = (0x4000 << 64) | (0x8000 << 48)


def random_uuid() -> str:
    """A random (version 4) UUID in its canonical text form, the id format TypeScript taskora uses."""
    h = "%032x" % (_ids.getrandbits(128) & _KEEP | _SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def lock_token() -> str:
    """A token that proves which claim holds a job's lock: 128 random bits as hex."""
    return os.urandom(16).hex()
