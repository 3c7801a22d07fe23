#!/usr/bin/env bash
# The whole check: engine lint, Python lint, and the test suite on real redis-server + the in-memory engine.
# Installs redis-server and luacheck with apt when they are missing (root, or sudo, needed for that).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v luacheck >/dev/null 2>&1 || need_apt+=(lua-check)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "== luacheck (engine scripts, as Redis receives them)"
python scripts/lint_lua.py
echo "== ruff"
ruff check taskora compat tests scripts conformance bench
echo "== mypy (strict on taskora, default checks on taskora.compat)"
scripts/typecheck.sh
echo "== pytest"
# In two processes (pytest-xdist), a test file at a time: a module's fixtures (its project on sys.path, its Redis
# Cluster) stay in one process, and each process starts its own redis-server on free loopback ports.
# TASKORA_TEST_PROCESSES=0 runs every test in this process (for pdb), N in N processes.
python -m pytest -q -p no:cacheprovider -n "${TASKORA_TEST_PROCESSES:-2}" --dist loadfile "$@"
