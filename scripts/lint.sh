#!/usr/bin/env bash
# Runs the linters configured in pyproject.toml: ruff (the pinned version's
# default rules) over the whole tree, then mypy over the migtd and tui packages.
# Both are in the [dev] extra; exit status is non-zero if either finds anything.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=".venv/bin"
[[ -x "$bin/ruff" && -x "$bin/mypy" ]] || { echo "lint: ruff/mypy missing; run ./scripts/setup.sh" >&2; exit 1; }
status=0
echo "lint: ruff check"
"$bin/ruff" check "$@" . || status=1
echo "lint: mypy"
"$bin/mypy" || status=1
exit "$status"
