#!/usr/bin/env bash
# Refresh requirements/test.txt, the pinned versions the README's test command installs (`pip install -c`).
# Run it on purpose, then run the test command; commit both together. It resolves the newest releases that the
# ranges in pyproject.toml admit, so a change here is a dependency upgrade and is reviewed as one.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q -e ".[test]"
{
  echo "# Pinned test environment: the README's test command installs with -c requirements/test.txt."
  echo "# Regenerate with requirements/refresh.sh (it resolves the newest releases pyproject.toml admits)."
  "$tmp/venv/bin/pip" freeze --exclude-editable --all | grep -v -E '^(pip|setuptools|wheel)=='
} > requirements/test.txt.new
mv requirements/test.txt.new requirements/test.txt
