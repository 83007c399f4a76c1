#!/usr/bin/env bash
# Molecule scenario molecule/default: converge, idempotence and verify against a winlab fleet.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_NOCOLOR=1
exec molecule test
