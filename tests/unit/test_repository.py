"""The repository itself: generated files stay out of git, so `make setup` leaves a clean tree."""

import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_no_generated_file_is_tracked():
    tracked = _git("ls-files").splitlines()
    generated = [p for p in tracked if ".egg-info/" in p or "__pycache__" in p or p.startswith((".venv/", "tests/output/"))]
    assert generated == []


def test_what_setup_generates_is_ignored():
    for path in ("winlab/src/winlab.egg-info/SOURCES.txt", ".venv/bin/python", "tests/output/x", ".lab/inventory.yml"):
        assert _git("check-ignore", "--no-index", path).strip() == path, path
