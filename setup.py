"""Package discovery for the three source trees; every other setting lives in setup.cfg."""

from setuptools import find_packages, setup


def _packages() -> list[str]:
    native = find_packages(include=["taskora", "taskora.*"])
    compat = ["taskora.compat"] + [f"taskora.compat.{p}" for p in find_packages("compat")]
    return native + compat + ["taskora.lua"]


setup(packages=_packages())
