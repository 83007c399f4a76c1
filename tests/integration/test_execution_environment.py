"""The execution environment (ee/execution-environment.yml, ansible-builder v3) and the collection's own
EE metadata: ansible-builder writes a build context without a container runtime, its introspection
of the built collection finds every controller dependency, and every third-party import of the
collection's plugins is declared."""

import ast
import json
import importlib.metadata
import pathlib
import re
import subprocess
import sys
import tarfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
# Import name -> distribution, for the imports whose names differ from their packages.
DISTRIBUTIONS = {"yaml": "pyyaml", "winrm": "pywinrm", "jinja2": "jinja2"}


def names(requirement_lines) -> set[str]:
    out = set()
    for line in requirement_lines:
        line = line.split("#", 1)[0].strip()
        if line:
            out.add(re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0].lower())
    return out


def third_party_imports() -> set[str]:
    found = set()
    for path in (ROOT / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("ansible", "ansible_collections", "__future__"):
                    found.add(top)
    return found


def test_every_third_party_import_of_the_plugins_is_declared():
    declared = names((ROOT / "requirements.txt").read_text().splitlines())
    core = names(importlib.metadata.requires("ansible-core") or [])  # what ansible-core brings anyway
    imports = third_party_imports()
    assert {"impacket", "pefile"} <= imports  # the scan sees what the smb transport and the bundle check use
    missing = {DISTRIBUTIONS.get(m, m) for m in imports} - declared - core
    assert not missing, f"imported by plugins/ but not in requirements.txt: {sorted(missing)}"
    assert "pywinrm" in declared  # ansible.builtin.winrm needs it: an EE from our metadata must reach WinRM hosts


def test_ansible_builder_writes_the_build_context_and_introspection_finds_every_dependency(tmp_path):
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    requirements = yaml.safe_load((ROOT / "ee" / "requirements.yml").read_text())["collections"]
    assert "collections/smsfleet-q317061.tar.gz" in [c["name"] for c in requirements]  # no version to keep in step
    assert {"ansible.windows", "community.windows"} <= {c["name"] for c in requirements}
    # What `make ee` runs; no podman or docker here, so the context only.
    create = subprocess.run([ROOT / "tools" / "ee-context.sh", str(tmp_path / "context")], capture_output=True,
                            text=True, check=False, env={"PATH": f"{BIN}:/usr/bin:/bin", "BIN": str(BIN)})
    assert create.returncode == 0, create.stdout + create.stderr
    assert f"is smsfleet-q317061-{version}.tar.gz" in create.stdout  # galaxy.yml's version, under the fixed name
    context = tmp_path / "context"
    containerfile = (context / "Containerfile").read_text()
    assert 'ANSIBLE_INSTALL_REFS="ansible-core>=2.21,<2.22 ansible-runner>=2.4,<2.5"' in containerfile
    assert "ansible-galaxy collection install" in containerfile and "introspect" in containerfile
    built = context / "_build" / "collections" / "smsfleet-q317061.tar.gz"
    with tarfile.open(built) as tarball:
        manifest = json.load(tarball.extractfile("MANIFEST.json"))
    assert manifest["collection_info"]["version"] == version
    assert "pywinrm[kerberos]" in (context / "_build" / "requirements.txt").read_text()
    # The site's krb5.conf and CA certificates (ee/site/) reach the image where the production group_vars look.
    assert (context / "_build" / "site" / "README.md").is_file()
    assert "COPY _build/site/ /etc/pki/smsfleet/" in containerfile and "/etc/krb5.conf" in containerfile
    assert containerfile.index("/etc/krb5.conf") > containerfile.rindex("FROM ")  # in the final image

    # What ansible-builder's introspection (run in the image at build time) reads from the installed collection.
    install = subprocess.run([BIN / "ansible-galaxy", "collection", "install", "--force", "-p", str(tmp_path / "collections"),
                              str(built)],
                             capture_output=True, text=True, check=False)
    assert install.returncode == 0, install.stderr
    introspected = subprocess.run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                                   str(tmp_path / "collections")], capture_output=True, text=True, check=False)
    assert introspected.returncode == 0, introspected.stderr
    found = yaml.safe_load(introspected.stdout)
    assert names(found["python"]) >= names((ROOT / "requirements.txt").read_text().splitlines())
    assert any(line.startswith("krb5-workstation") for line in found["system"])
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
