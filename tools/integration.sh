#!/usr/bin/env bash
# Integration tests: real ansible-playbook over real WinRM against winlab fleets.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls tests/integration/test_*.py >/dev/null 2>&1; then
  echo "integration: no integration tests yet"; exit 0
fi
exec .venv/bin/python -m pytest --no-cov -p no:cacheprovider tests/integration "$@"
