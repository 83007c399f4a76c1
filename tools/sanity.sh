#!/usr/bin/env bash
# ansible-test sanity --local insists on running from .../ansible_collections/<ns>/<name>,
# so we copy the tracked (and new, unignored) files into such a tree under tests/output.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tree="$root/tests/output/sanity/ansible_collections/smsfleet/q317061"
rm -rf "$tree"; mkdir -p "$tree"
if git rev-parse --git-dir >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] || continue
    mkdir -p "$tree/$(dirname "$f")"; cp -p "$f" "$tree/$f"
  done
else
  tar -C "$root" --exclude=./.venv --exclude=./tests/output --exclude=./.lab -cf - . | tar -C "$tree" -xf -
fi
# ansible-test only scans collection content; keep the lab and tooling out of its way.
rm -rf "$tree/winlab" "$tree/bench" "$tree/tools" "$tree/.ci"
cd "$tree"
git init -q . && git add -A >/dev/null
"$root/.venv/bin/ansible-test" sanity --local --python 3.12 --color no "$@"
