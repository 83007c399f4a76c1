#!/usr/bin/env bash
# Run every quality gate; each failing gate fails the run, and all gates run so
# one failure does not hide another. A summary names what failed.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
gate() {
  local name=$1; shift
  echo "=== gate: $name"
  local start=$SECONDS
  if "$@"; then echo "=== gate: $name passed ($((SECONDS - start))s)"; else echo "=== gate: $name FAILED"; failed+=("$name"); fi
}
gate "unit tests (pytest + coverage)" .venv/bin/python -m pytest tests/unit
gate "powershell syntax and argspec" .venv/bin/python -m pytest -p no:cacheprovider --no-cov tests/powershell
gate "ansible-test sanity" tools/sanity.sh
gate "ansible-lint (production)" tools/lint.sh
gate "collection build" tools/build.sh
gate "galaxy-importer (publishable)" tools/importer.sh
gate "integration tests (winlab)" tools/integration.sh
gate "molecule scenario (winlab)" tools/molecule.sh
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED gates:\n'; printf '  - %s\n' "${failed[@]}"; exit 1
fi
echo "all gates passed"
