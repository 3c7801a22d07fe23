"""Random identifiers: job ids and lock tokens, made on every dispatch and every claim.

Both come straight from ``os.urandom``: ``uuid.uuid4()`` builds a UUID object (and ``str`` formats it
again) for a few microseconds more, which at tens of thousands of jobs a second is a visible share of
the hot path. ``os.urandom`` reads the kernel's generator on every call, so forked worker children
never share a sequence.
"""

from __future__ import annotations

import os

_VARIANT = "89ab"  # RFC 4122 variant: the top two bits of the clock_seq byte are 10


def random_uuid() -> str:
    """A random (version 4) UUID in its canonical text form, the id format TypeScript taskora uses."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def lock_token() -> str:
    """A token that proves which claim holds a job's lock: 128 random bits as hex."""
    return os.urandom(16).hex()
