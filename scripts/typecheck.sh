#!/usr/bin/env bash
# mypy over the package as it is installed: setup.cfg's package_dir maps compat/ to taskora.compat and lua/ to
# taskora.lua, and the editable install does that with an import hook that mypy cannot follow. So this builds a
# tree of symlinks with that layout (outside the checkout, kept between runs so mypy's cache stays valid),
# checks it with the [tool.mypy] settings of pyproject.toml, and prints paths as they are in the checkout.
# Extra arguments go to mypy. Exits non-zero on any type error.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python}"

shadow="${TMPDIR:-/tmp}/taskora-typecheck-$(printf '%s' "$root" | cksum | cut -d' ' -f1)"
rm -rf "$shadow/taskora"
mkdir -p "$shadow/taskora"
for entry in "$root"/taskora/*; do
  ln -s "$entry" "$shadow/taskora/$(basename "$entry")"
done
ln -s "$root/compat" "$shadow/taskora/compat"
ln -s "$root/lua" "$shadow/taskora/lua"

cd "$shadow"
"$python" -m mypy --config-file "$root/pyproject.toml" --cache-dir "$shadow/.mypy_cache" "$@" \
  | sed -e 's#^taskora/compat/#compat/#' -e 's#^taskora/lua/#lua/#'
