#!/usr/bin/env bash
# Build the collection tarball and prove it holds no test, lab or tooling files.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/output/build
rm -rf "$out"; mkdir -p "$out"
.venv/bin/ansible-galaxy collection build --force --output-path "$out" . >/dev/null
tarball=$(ls "$out"/smsfleet-q317061-*.tar.gz)
.venv/bin/python tools/check_tarball.py "$tarball"
