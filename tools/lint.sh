#!/usr/bin/env bash
# ansible-lint, production profile, over everything users run: roles, playbooks, remediate.yml.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=()
for t in roles playbooks remediate.yml; do [ -e "$t" ] && targets+=("$t"); done
exec .venv/bin/ansible-lint --offline --profile production --strict "${targets[@]}"
