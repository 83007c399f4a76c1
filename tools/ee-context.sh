#!/usr/bin/env bash
# The execution environment's build context: the collection tarball under the version-free name
# ee/requirements.yml installs (ee/smsfleet-q317061.tar.gz), then `ansible-builder create` writes the
# context (Containerfile and _build/) to ${1:-tests/output/ee-context}. With podman or docker on the
# PATH and EE_TAG set, it also builds the image. `make ee` runs this; docs/awx.md step 1 says what next.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-$PWD/.venv/bin}
context=${1:-tests/output/ee-context}
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
"$bin/ansible-galaxy" collection build --force --output-path "$build" . >/dev/null
tarballs=("$build"/smsfleet-q317061-*.tar.gz)
[ "${#tarballs[@]}" -eq 1 ] || { echo "ee-context: expected one collection tarball, got ${tarballs[*]}" >&2; exit 1; }
cp "${tarballs[0]}" ee/smsfleet-q317061.tar.gz
echo "ee-context: ee/smsfleet-q317061.tar.gz is $(basename "${tarballs[0]}")"
rm -rf "$context"
"$bin/ansible-builder" create -f ee/execution-environment.yml -c "$context" --output-filename Containerfile >/dev/null
echo "ee-context: build context in $context"
if [ -n "${EE_TAG:-}" ]; then
  runtime=$(command -v podman || command -v docker || true)
  [ -n "$runtime" ] || { echo "ee-context: EE_TAG is set but neither podman nor docker is on the PATH" >&2; exit 1; }
  "$runtime" build -f "$context/Containerfile" -t "$EE_TAG" "$context"
fi
