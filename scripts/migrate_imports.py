"""Rewrite a Celery project's imports to ``taskora.compat``: the one code change a migration needs.

The rewrite is token-based, so everything that is not an import statement is left byte for byte as it
was: strings, comments, formatting, and names that merely start with ``celery`` (``celery_app``,
``proj.celeryconfig``, ``from .celery import app``). The rules:

* ``from celery import X`` → ``from taskora.compat import X``;
  ``from celery.a.b import X`` → ``from taskora.compat.a.b import X``;
* ``import celery`` → ``import taskora.compat as celery`` (the name ``celery`` stays bound);
  ``import celery as c`` → ``import taskora.compat as c``;
  ``import celery.a.b as m`` → ``import taskora.compat.a.b as m``;
* ``import celery.schedules`` (no alias) → ``import taskora.compat.schedules, taskora.compat as celery``
  so that ``celery.schedules.crontab`` keeps resolving (this also binds the name ``taskora``);
* relative imports (``from .celery import app``) are the project's own modules and never change.

Strings that name Celery modules (``"celery.contrib.pytest"``, ``'celery.beat:PersistentScheduler'``)
are reported as notes, not rewritten: they are configuration the migration guide tells you to review.

Usage::

    python scripts/migrate_imports.py SRC DST        # copy the project SRC to DST, imports rewritten
    python scripts/migrate_imports.py --in-place SRC  # rewrite SRC's files where they are
    python scripts/migrate_imports.py --diff SRC      # print the changes, write nothing
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib
import importlib.util
import io
import re
import shutil
import sys
import tempfile
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

OLD = "celery"
NEW = "taskora.compat"
_SKIPPED_TOKENS = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
_STATEMENT_STARTERS = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
_STRING_MENTION = re.compile(r"""^[rRbBuUfF]*['"]{1,3}celery([.:]|['"])""")
_IGNORED_DIRS = {"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


@dataclass
class Result:
    """What one file's rewrite did: the new text, how many imports changed, and notes for a human."""

    text: str
    changes: int = 0
    notes: list[str] = field(default_factory=list)
    #: ``(line, module, names)`` of every ``taskora.compat`` import in the new text (names: ``from`` imports).
    targets: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)


@dataclass
class _Edit:
    start: tuple[int, int]
    end: tuple[int, int]
    replacement: str


def rewrite_source(source: str, filename: str = "<string>") -> Result:
    """Return ``source`` with every absolute ``celery`` import pointed at ``taskora.compat``.

    Raises ``SyntaxError`` (naming ``filename``) when the source is not valid Python, because a
    rewrite of code that does not parse could not be checked.
    """
    ast.parse(source, filename=filename)
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)]
    edits: list[_Edit] = []
    notes: list[str] = []
    for index, token in enumerate(tokens):
        if token.type == tokenize.NAME and token.string in ("import", "from") and _starts_statement(tokens, index):
            edits.extend(_import_edits(tokens, index))
        elif token.type == tokenize.STRING and _STRING_MENTION.match(token.string):
            notes.append(f"{filename}:{token.start[0]}: string {token.string} names a Celery module (not rewritten)")
    text = _apply(source, edits)
    targets = _check(text, filename) if edits else []
    return Result(text=text, changes=len(edits), notes=notes, targets=targets)


def _starts_statement(tokens: list[tokenize.TokenInfo], index: int) -> bool:
    """True when the keyword at ``index`` begins a statement (not ``yield from`` / ``raise X from``)."""
    previous = _previous_significant(tokens, index)
    if previous is None or previous.type in _STATEMENT_STARTERS:
        return True
    return previous.type == tokenize.OP and previous.string in (";", ":")


def _previous_significant(tokens: list[tokenize.TokenInfo], index: int) -> tokenize.TokenInfo | None:
    for token in reversed(tokens[:index]):
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            return token
    return None


def _significant(tokens: list[tokenize.TokenInfo], index: int) -> Iterator[tuple[int, tokenize.TokenInfo]]:
    """Yield the tokens from ``index`` on, skipping layout-only ones (NL, comments)."""
    for position in range(index, len(tokens)):
        if tokens[position].type not in _SKIPPED_TOKENS:
            yield position, tokens[position]


def _import_edits(tokens: list[tokenize.TokenInfo], index: int) -> list[_Edit]:
    if tokens[index].string == "from":
        return _from_edits(tokens, index)
    return _plain_import_edits(tokens, index)


def _from_edits(tokens: list[tokenize.TokenInfo], index: int) -> list[_Edit]:
    """``from celery[.x] import …``: only the leading ``celery`` token changes; relative imports never do."""
    stream = _significant(tokens, index + 1)
    _, first = next(stream)
    if first.type != tokenize.NAME or first.string != OLD:
        return []  # relative (``from .celery``), or another module
    _, after = next(stream)
    if after.string in (".", "import"):
        return [_Edit(first.start, first.end, NEW)]
    return []


def _plain_import_edits(tokens: list[tokenize.TokenInfo], index: int) -> list[_Edit]:
    """``import a, celery.x as y, …``: each comma-separated item is rewritten on its own."""
    edits: list[_Edit] = []
    item: list[tokenize.TokenInfo] = []
    for _, token in _significant(tokens, index + 1):
        if token.type == tokenize.OP and token.string == ",":
            edits.extend(_item_edits(item))
            item = []
        elif token.type in (tokenize.NEWLINE, tokenize.ENDMARKER) or token.string == ";":
            edits.extend(_item_edits(item))
            return edits
        else:
            item.append(token)
    return edits + _item_edits(item)


def _item_edits(item: list[tokenize.TokenInfo]) -> list[_Edit]:
    if not item or item[0].type != tokenize.NAME or item[0].string != OLD:
        return []
    names = [t.string for t in item]
    if "as" in names:
        return [_Edit(item[0].start, item[0].end, NEW)]
    if len(item) == 1:  # import celery
        return [_Edit(item[0].start, item[0].end, f"{NEW} as {OLD}")]
    dotted = "".join(names)  # import celery.a.b: import the submodule, keep ``celery`` bound
    return [_Edit(item[0].start, item[-1].end, f"{NEW}{dotted[len(OLD):]}, {NEW} as {OLD}")]


def _apply(source: str, edits: list[_Edit]) -> str:
    """Splice the edits into ``source``; token positions are (line, column in characters)."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    out = source
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        begin = starts[edit.start[0] - 1] + edit.start[1]
        end = starts[edit.end[0] - 1] + edit.end[1]
        out = out[:begin] + edit.replacement + out[end:]
    return out


def _check(text: str, filename: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """The rewritten file must parse and import nothing from ``celery``; returns its compat imports."""
    targets = []
    for node in ast.walk(ast.parse(text, filename=filename)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
            targets += [(node.lineno, m, ()) for m in modules if m.startswith(NEW)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            if node.module.startswith(NEW):
                targets.append((node.lineno, node.module, tuple(a.name for a in node.names)))
        left = [m for m in modules if m == OLD or m.startswith(OLD + ".")]
        if left:
            raise RuntimeError(f"{filename}:{node.lineno}: import of {left[0]} survived the rewrite")
    return targets


def unsupported(targets: list[tuple[int, str, tuple[str, ...]]]) -> list[str]:
    """What the rewritten imports ask of ``taskora.compat`` that it does not have (imports it to check).

    Never raises: a module that fails to import, or a name whose lookup raises, is a note like any other
    gap, because the rewrite itself is still right and the user needs the whole list, not the first one.
    """
    problems = []
    for line, module, names in targets:
        loaded, error = _try_import(module)
        if loaded is None:
            problems.append(f"{line}: {module} {error}")
            continue
        problems += [f"{line}: {why}" for why in (_missing(loaded, module, name) for name in names) if why]
    return problems


def _try_import(module: str) -> tuple[object | None, str]:
    """``(module, "")``, or ``(None, why)`` when importing it fails for any reason."""
    try:
        return importlib.import_module(module), ""
    except ImportError:
        return None, "does not exist in this taskora version"
    except Exception as exc:  # noqa: BLE001 - a broken module is a note, not a crash of the migration
        return None, f"failed to import ({type(exc).__name__}: {exc})"


def _missing(loaded: object, module: str, name: str) -> str | None:
    """Why ``from module import name`` would fail (None when it works): no attribute, no submodule, or
    the error a lazy attribute raises (``schedules.solar`` explains itself with an ImportError)."""
    if name == "*":
        return None
    try:
        if hasattr(loaded, name):
            return None
    except Exception as exc:  # noqa: BLE001 - a lazy attribute whose lookup fails is simply not provided
        return f"{module} has no {name} ({exc})"
    if hasattr(loaded, "__path__"):  # only a package has submodules; find_spec raises on a plain module
        try:
            if importlib.util.find_spec(f"{module}.{name}") is not None:
                return None
        except (ImportError, ValueError):
            pass
    return f"{module} has no {name}"


def rewrite_file(path: Path, display: str | None = None) -> Result:
    """Rewrite one file in place, keeping its encoding and line endings; ``display`` names it in notes."""
    encoding, result = _plan_file(path, display or str(path))
    if result.changes:
        _write(path, encoding, result.text)
    return result


def _plan_file(path: Path, display: str) -> tuple[str, Result]:
    """Read ``path`` in its declared encoding and compute its rewrite without writing anything."""
    with tokenize.open(path) as handle:
        encoding = handle.encoding
    with open(path, encoding=encoding, newline="") as handle:
        source = handle.read()
    return encoding, rewrite_source(source, filename=display)


def _write(path: Path, encoding: str, text: str) -> None:
    with open(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text)


def python_files(root: Path) -> Iterator[Path]:
    """Every ``.py`` file under ``root``, skipping caches and VCS folders."""
    for path in sorted(root.rglob("*.py")):
        if not _IGNORED_DIRS.intersection(path.relative_to(root).parts):
            yield path


def migrate_tree(source: Path, target: Path | None = None, check: bool = False) -> dict[Path, Result]:
    """Copy ``source`` to ``target`` (or work in place when ``target`` is None) and rewrite every file.

    All or nothing: the copy is built in a hidden sibling folder of ``target`` and renamed into place
    only when every file has been rewritten, and an in-place run writes only once every file's rewrite
    is known, so an error (a file that does not parse, a full disk) never leaves a half-migrated tree.
    With ``check``, each rewritten import is tried against the installed ``taskora.compat`` and what it
    lacks becomes a note. Returns the results of the files that changed or carry notes, keyed by path
    relative to the root.
    """
    source = Path(source)
    if not source.is_dir():
        raise NotADirectoryError(f"project folder {source} does not exist or is not a directory")
    if target is None:
        plans = _plan_tree(source, source, check)
        for path, (encoding, result) in plans.items():
            if result.changes:
                _write(source / path, encoding, result.text)
        return _reported(plans)
    return _migrate_copy(source, Path(target), check)


def _migrate_copy(source: Path, target: Path, check: bool) -> dict[Path, Result]:
    """Build the rewritten copy in a staging folder next to ``target``, then rename it into place."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"target folder {target} exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.migrating-", dir=target.parent))
    try:
        ignore = shutil.ignore_patterns(*_IGNORED_DIRS, "*.pyc")
        shutil.copytree(source, staging, dirs_exist_ok=True, ignore=ignore)
        plans = _plan_tree(staging, source, check)
        for path, (encoding, result) in plans.items():
            if result.changes:
                _write(staging / path, encoding, result.text)
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _reported(plans)


def _plan_tree(root: Path, named_as: Path, check: bool) -> dict[Path, tuple[str, Result]]:
    """Every file's rewrite under ``root``, computed in memory; notes and errors name ``named_as``'s files."""
    plans = {}
    for path in python_files(root):
        relative = path.relative_to(root)
        encoding, result = _plan_file(path, str(named_as / relative))
        if check:
            result.notes += [f"{relative}:{problem}" for problem in unsupported(result.targets)]
        plans[relative] = (encoding, result)
    return plans


def _reported(plans: dict[Path, tuple[str, Result]]) -> dict[Path, Result]:
    return {path: result for path, (_, result) in plans.items() if result.changes or result.notes}


def _diff(source: Path) -> int:
    for path in python_files(source):
        text = path.read_text(encoding="utf-8")
        new = rewrite_source(text, filename=str(path)).text
        name = str(path)
        sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), new.splitlines(True), name, name))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry: copy-and-rewrite, in-place rewrite, or a diff."""
    parser = argparse.ArgumentParser(description="Point a Celery project's imports at taskora.compat.")
    parser.add_argument("source", type=Path, help="the project folder")
    parser.add_argument("target", type=Path, nargs="?", help="where to write the migrated copy")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--in-place", action="store_true", help="rewrite the files of SOURCE themselves")
    mode.add_argument("--diff", action="store_true", help="print a unified diff and write nothing")
    args = parser.parse_args(argv)
    if args.diff:
        return _diff(args.source)
    if (args.target is None) == (not args.in_place):
        parser.error("give either a TARGET folder or --in-place")
    try:
        results = migrate_tree(args.source, None if args.in_place else args.target, check=True)
    except (OSError, SyntaxError) as exc:
        print(f"migrate_imports: {exc}", file=sys.stderr)
        return 1
    for relative, result in results.items():
        if result.changes:
            print(f"rewrote {result.changes} import(s) in {relative}")
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
    changed = [r for r in results.values() if r.changes]
    print(f"{sum(r.changes for r in changed)} import(s) rewritten in {len(changed)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
