"""Package discovery for the three source trees; every other setting lives in setup.cfg."""

from setuptools import find_packages, setup


#: Directories of data files only (no ``__init__.py``): listed as packages so setuptools installs them knowingly
#: (their files are in setup.cfg's package_data) instead of warning that an importable directory is left out.
DATA_PACKAGES = ["taskora.board.static", "taskora.lua.lib"]


def _packages() -> list[str]:
    native = find_packages(include=["taskora", "taskora.*"])
    compat = ["taskora.compat"] + [f"taskora.compat.{p}" for p in find_packages("compat")]
    return native + compat + ["taskora.lua"] + DATA_PACKAGES


setup(packages=_packages())
