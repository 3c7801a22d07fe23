"""Getting Celery's source distribution: the pinned sdist is the one input of the conformance harness.

The tarball is looked for, in order, at ``$TASKORA_CELERY_SDIST`` (a path to ``celery-X.Y.Z.tar.gz``), in
the cache folder, and finally fetched with ``pip download`` (which itself serves from pip's cache when
offline). Only the source is needed: nothing of Celery is ever installed or imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

DEFAULT_VERSION = "5.7.0"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "taskora-conformance"


class SdistUnavailable(RuntimeError):
    """The pinned Celery sdist is neither given, cached, nor downloadable (no network, no pip cache)."""


def celery_sdist(version: str = DEFAULT_VERSION, cache: Path = DEFAULT_CACHE) -> Path:
    """The path of ``celery-<version>.tar.gz``, downloading it into ``cache`` when it is not there yet."""
    given = os.environ.get("TASKORA_CELERY_SDIST")
    if given and Path(given).name == f"celery-{version}.tar.gz" and Path(given).is_file():
        return Path(given)
    tarball = Path(cache) / f"celery-{version}.tar.gz"
    if tarball.is_file():
        return tarball
    Path(cache).mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--disable-pip-version-check", "-d", str(cache), f"celery=={version}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not tarball.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SdistUnavailable(f"could not get celery=={version} sdist with pip download: {tail[0]}")
    return tarball


def extract(tarball: Path, member: str, dest: Path) -> Path:
    """Extract the folder or file ``member`` (e.g. ``t/integration``) of the sdist into ``dest``; returns its path."""
    top = tarball.name.removesuffix(".tar.gz")
    name = f"{top}/{member.strip('/')}"
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers()
                   if (m.name == name or m.name.startswith(name + "/")) and (m.isfile() or m.isdir())]  # fmt: skip
        if not members:
            raise SdistUnavailable(f"{tarball} has no {member}")
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # the safe filter, where Python has it
        archive.extractall(dest, members=members, **safe)
    return Path(dest) / name
