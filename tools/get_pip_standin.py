"""Offline stand-in for ansible-test's downloaded get-pip.py.

ansible-test runs get-pip.py with pip-install arguments to bootstrap pip into
each sanity venv. That script lives on a host we cannot reach, so we use the
pip bundled with CPython (ensurepip) and then install what was asked for.
"""

import subprocess
import sys

DROPPED = {"--no-setuptools", "--no-wheel"}

subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], check=True,
               stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in DROPPED]
sys.exit(subprocess.run([sys.executable, "-m", "pip", "install", *args]).returncode)
