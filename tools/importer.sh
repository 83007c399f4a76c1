#!/usr/bin/env bash
# galaxy-importer (what Galaxy and Automation Hub run on an upload) on the built tarball, offline:
# metadata, README and role READMEs, plugin documentation, changelog. It lives in its own venv
# (tests/output/importer-venv) because it pins its own ansible-core and ansible-lint.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=tests/output/importer-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import galaxy_importer' 2>/dev/null; then
  rm -rf "$venv"
  .venv/bin/python -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check galaxy-importer==0.4.44
fi
tools/build.sh
tarball=$(ls "$PWD"/tests/output/build/smsfleet-q317061-*.tar.gz)
work=tests/output/importer
rm -rf "$work"; mkdir -p "$work/tmp"
cat > "$work/galaxy-importer.cfg" <<CFG
[galaxy-importer]
run_ansible_test = False
run_ansible_lint = True
offline_ansible_lint = True
check_changelog = True
tmp_root_dir = $PWD/$work/tmp
ansible_local_tmp = $PWD/$work/tmp
CFG
cd "$work"
GALAXY_IMPORTER_CONFIG="$PWD/galaxy-importer.cfg" PATH="$PWD/../../../$venv/bin:$PATH" \
  "../../../$venv/bin/python" -m galaxy_importer.main "$tarball" > importer.log 2>&1 || {
  cat importer.log; echo "galaxy-importer refused the collection"; exit 1; }
python3 - <<'PY'
import json
result = json.load(open("importer_result.json"))
docs = {c["name"]: c for c in result["contents"]}
missing = [n for n, c in docs.items() if c.get("content_type") in ("module", "filter", "connection") and not c.get("description")]
print(f"galaxy-importer: {len(docs)} contents, {len(result['docs_blob']['contents'])} documented")
assert not missing, f"no documentation for {missing}"
PY
grep -E "^(WARNING|ERROR)" importer.log | grep -v "syntax-check\[unknown-module\]" || true
