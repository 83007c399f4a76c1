#!/usr/bin/env bash
# ansible-lint, production profile, over everything users run: roles, playbooks, remediate.yml; then
# the AWX configuration (awx/configure.yml) with the args rule on, so every awx.awx argument is
# checked against the module's argument spec.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=()
for t in roles playbooks remediate.yml; do [ -e "$t" ] && targets+=("$t"); done
.venv/bin/ansible-lint --offline --profile production --strict "${targets[@]}"
exec .venv/bin/ansible-lint -c awx/ansible-lint.yml awx/configure.yml
