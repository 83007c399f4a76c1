#!/usr/bin/env bash
# Idempotent developer set-up: .venv with Python >= 3.12, pinned dependencies,
# the collections we depend on, and this checkout resolvable as smsfleet.q317061.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="$root/.venv"
want=$(tr -d '[:space:]' < .python-version)

python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

find_python() {
  local c
  for c in "${PYTHON:-}" "$HOME/.pyenv/versions/$want/bin/python3" python3.12 python3.13 python3; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && python_ok "$c"; then command -v "$c"; return 0; fi
  done
  return 1
}

if [ -x "$venv/bin/python" ] && ! python_ok "$venv/bin/python"; then
  echo "setup: $venv uses Python < 3.12; recreating it" >&2
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  py=$(find_python) || {
    echo "setup: Python >= 3.12 is required (ansible-core 2.21); wanted $want from .python-version." >&2
    echo "setup: install it (e.g. 'pyenv install $want') or set PYTHON=/path/to/python3.12" >&2
    exit 1
  }
  echo "setup: creating .venv with $py ($("$py" --version))"
  "$py" -m venv "$venv"
fi

stamp="$venv/.setup-stamp"
sig=$(cat requirements/dev.in requirements/constraints.txt requirements/collections.txt tools/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sig" ] && [ -e "$venv/collections-ok" ]; then
  :
else
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r requirements/dev.in -c requirements/constraints.txt
  "$venv/bin/python" tools/install_collections.py requirements/collections.txt
  touch "$venv/collections-ok"
  echo "$sig" > "$stamp"
fi

# An installed copy of this collection in .venv/collections (where `ansible-galaxy collection install`, run
# inside the checkout, puts it: ansible.cfg's first collections_path) would shadow the checkout under test.
shadow="$venv/collections/ansible_collections/smsfleet"
if [ -e "$shadow" ]; then
  echo "setup: removing $shadow: an installed smsfleet collection there shadows this checkout (README: install a" \
    "release with -p, outside the checkout)"
  rm -rf "$shadow"
fi

# Make this checkout importable and resolvable as smsfleet.q317061 (no galaxy install).
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$site/ansible_collections/smsfleet"
ln -sfn "$root" "$site/ansible_collections/smsfleet/q317061"
# winlab is test infrastructure: its own package, installed editable, never in the collection.
if ! "$venv/bin/python" -c 'import winlab' 2>/dev/null || [ ! -x "$venv/bin/winlab" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$root/winlab"
fi

# The HTML report is checked in a real browser: Debian's chromium (installed once; needs root and apt-get).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium for the HTML report test"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: chromium is missing and cannot be installed here; the HTML report test will fail (apt-get install chromium)" >&2
  fi
fi

# The SMB side is checked independently of impacket: Samba's smbclient, rpcclient and net as clients of
# winlab, and Samba's smbd (with smbpasswd and eventlogadm) as a second server for the collection's client.
if ! command -v smbclient >/dev/null 2>&1 || ! command -v rpcclient >/dev/null 2>&1 || ! command -v net >/dev/null 2>&1 \
   || [ ! -x /usr/sbin/smbd ] || ! command -v eventlogadm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's samba, smbclient and samba-common-bin for the SMB tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq samba smbclient samba-common-bin >/dev/null
  else
    echo "setup: Samba (smbd, smbclient, rpcclient, net) is missing and cannot be installed here; the Samba tests will fail" >&2
  fi
fi

# ansible-test fetches a pip bootstrap script it cannot reach here; give it a local stand-in.
pipver=$("$venv/bin/python" tools/ansible_test_pip_version.py)
mkdir -p "$HOME/.ansible/test/cache"
cp tools/get_pip_standin.py "$HOME/.ansible/test/cache/get_pip_${pipver//./_}.py"
echo "setup: ready ($("$venv/bin/ansible" --version | head -1))"
