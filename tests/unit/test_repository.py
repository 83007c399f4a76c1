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


def test_the_projects_ansible_cfg_does_not_hide_an_execution_environments_collections():
    """AWX runs the project's playbooks in the project folder, so its ansible.cfg applies; an execution
    environment's collections are in /usr/share/ansible/collections (ansible-builder's path)."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "ansible.cfg")
    paths = config["defaults"]["collections_path"].split(":")
    assert "/usr/share/ansible/collections" in paths
    assert not any(p.startswith("~") for p in paths)  # an installed release must never shadow the checkout


def test_the_supported_ansible_core_versions_agree_everywhere():
    """requires_ansible, the roles' min_ansible_version and the README name the ansible-core tested here."""
    import re

    import yaml

    pinned = re.search(r"^ansible-core==(\d+\.\d+)\.", (ROOT / "requirements" / "constraints.txt").read_text(), re.M)[1]
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["requires_ansible"]
    assert runtime == f">={pinned}.0"
    for role in ("hotfix", "workaround"):
        meta = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text())
        assert str(meta["galaxy_info"]["min_ansible_version"]) == pinned, role
    assert f"ansible-core {pinned}" in (ROOT / "README.md").read_text()


def test_every_module_documents_its_check_mode_diff_and_platform_attributes():
    """What ansible-doc shows an administrator before a maintenance window: may it run with --check, does it diff."""
    import ast

    import yaml

    for path in sorted((ROOT / "plugins" / "modules").glob("*.py")):
        tree = ast.parse(path.read_text())
        text = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                    and node.targets[0].id == "DOCUMENTATION")
        attributes = yaml.safe_load(text).get("attributes") or {}
        assert attributes["check_mode"]["support"] in ("full", "partial", "none"), path.name
        assert attributes["diff_mode"]["support"] in ("full", "partial", "none"), path.name
        assert attributes["platform"]["platforms"] in ("windows", "all"), path.name
        for name in ("check_mode", "diff_mode"):
            if attributes[name]["support"] == "partial":
                assert attributes[name].get("details"), f"{path.name}: say what part of {name} is supported"
