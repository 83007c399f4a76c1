"""README's install path, run as a user runs it: a fresh virtual environment, packages from PyPI only
(the `ansible` package brings ansible-core and ansible.windows), the collection built from this
checkout and installed with `--offline`, outside the checkout, so no Galaxy server is ever asked.
Then the installed collection is the one Ansible finds, and its playbooks parse by name."""

import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pinned_ansible() -> str:
    """The `ansible` release the collection is tested with (requirements/collections.txt, its first wheel)."""
    return re.search(r"^wheel (ansible==\S+)", (ROOT / "requirements" / "collections.txt").read_text(), re.M).group(1)


def test_the_readme_install_needs_only_pypi_and_lands_outside_the_checkout(tmp_path):
    readme = (ROOT / "README.md").read_text()
    assert f"python -m pip install '{pinned_ansible()}'" in readme
    assert "ansible-galaxy collection install --offline -p ~/.ansible/collections" in readme

    home, venv, build = tmp_path / "home", tmp_path / "venv", tmp_path / "build"
    home.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CERT", "SSL_CERT_FILE",
                 "REQUESTS_CA_BUNDLE", "PIP_DEFAULT_TIMEOUT"):
        if name in os.environ:  # how this machine reaches PyPI, nothing else of the test run's environment
            env[name] = os.environ[name]

    def run(*command, cwd=home):
        done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
        return done.stdout

    run(sys.executable, "-m", "venv", venv)
    pip = (venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    name, version = pinned_ansible().split("==")
    cached = ROOT / ".venv" / "cache" / "wheels" / f"{name}-{version}-py3-none-any.whl"  # `make setup` fetched it
    run(*pip, cached if cached.is_file() else pinned_ansible())
    run(*pip, "-r", ROOT / "requirements.txt")
    run(venv / "bin" / "ansible-galaxy", "collection", "build", "--output-path", build, ROOT)
    tarball = next(build.glob("smsfleet-q317061-*.tar.gz"))
    run(venv / "bin" / "ansible-galaxy", "collection", "install", "--offline", "-p", home / ".ansible" / "collections",
        tarball)

    installed = home / ".ansible" / "collections" / "ansible_collections" / "smsfleet" / "q317061"
    assert (installed / "MANIFEST.json").is_file() and not (installed / "tests").exists()
    listing = run(venv / "bin" / "ansible-galaxy", "collection", "list")
    assert str(home / ".ansible" / "collections") in listing and "ansible.windows" in listing
    doc = run(venv / "bin" / "ansible-doc", "smsfleet.q317061.q317061_probe")
    assert str(installed) in doc  # the installed copy, not this checkout
    run(venv / "bin" / "ansible-doc", "ansible.windows.win_ping")
    for playbook in ("audit", "remediate", "rollback"):
        run(venv / "bin" / "ansible-playbook", "-i", "localhost,", "--syntax-check", f"smsfleet.q317061.{playbook}")
    run(venv / "bin" / "python", "-c", "import impacket, pefile, winrm")
