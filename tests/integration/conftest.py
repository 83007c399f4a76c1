"""Fixtures that start winlab fleets and run the real ansible tools against them."""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest
import yaml
from winlab.bundle import write_bundle

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
DEMO = ROOT / "inventories" / "lab" / "fleets" / "demo.yml"


class Lab:
    def __init__(self, state_dir: pathlib.Path, fleet: pathlib.Path, up_args=()):
        self.state_dir, self.fleet, self.up_args = state_dir, fleet, tuple(up_args)
        self.inventory = state_dir / "inventory.yml"
        # The controller's records of changes are per lab: another lab's host of the same name is another host.
        self.ansible_home = state_dir.parent / f"{state_dir.name}-ansible-home"
        self.env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                        ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_HOME=str(self.ansible_home))

    def record_transaction(self, host: str, journal: dict, before: dict | None = None) -> dict:
        """The journal, carrying the id of a transaction this lab's controller recorded (as an interrupted run
        leaves both): tests that plant a journal on a host use it, or the recovery is rightly refused."""
        from ansible_collections.smsfleet.q317061.plugins.plugin_utils import records

        home = str(self.ansible_home)
        record = records.begin(records.load(host, home=home), host, journal.get("state", "replaced"), before or {}, {})
        records.save(host, record, home)
        return dict(journal, id=records.current(record)["id"])

    def winlab(self, *args, check=True):
        return subprocess.run([BIN / "winlab", "--state-dir", str(self.state_dir), *args], capture_output=True,
                              text=True, check=check, env=self.env, timeout=300)

    def up(self):
        self.winlab("up", "--fleet", str(self.fleet), *self.up_args)

    def down(self):
        self.winlab("down", check=False)

    def up_hosts(self) -> dict:
        """Host name -> whether it answers now (`winlab status`)."""
        return {h["name"]: h["up"] for h in json.loads(self.winlab("status", "--json").stdout)}

    def wait_up(self, timeout=60):
        """Wait until every host answers again (after a restart or a cleared fault)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(self.up_hosts().values()):
                return
            time.sleep(0.5)
        raise AssertionError(f"hosts still down after {timeout}s")

    def stats(self):
        return json.loads(self.winlab("stats").stdout)

    def host_state(self, name):
        return json.loads((self.state_dir / "hosts" / f"{name}.json").read_text())

    def hosts(self):
        return yaml.safe_load(self.inventory.read_text())

    def set_hostvars(self, group, host, **hostvars):
        """Change (or add) a host's connection variables in the written inventory."""
        inventory = self.hosts()
        hosts = inventory["all"]["children"]["site_servers"]["children"][group]["hosts"]
        hosts[host] = dict(hosts.get(host) or {}, **hostvars)
        self.inventory.write_text(yaml.safe_dump(inventory))

    def ansible(self, *args, check=False):
        return subprocess.run([BIN / "ansible", "-i", str(self.inventory), *args], capture_output=True, text=True,
                              env=self.env, check=check, timeout=600, cwd=ROOT)

    def playbook(self, *args, check=False):
        return subprocess.run([BIN / "ansible-playbook", "-i", str(self.inventory), *args], capture_output=True,
                              text=True, env=self.env, check=check, timeout=1200, cwd=ROOT)


@pytest.fixture
def bundle(tmp_path):
    """A good hotfix bundle (winlab's synthetic KB layout) for a test's remediation."""
    write_bundle(tmp_path / "bundle")
    return tmp_path / "bundle"


@pytest.fixture
def lab_factory(tmp_path):
    labs = []

    def make(fleet_text=None, fleet_path=None, up_args=()):
        path = fleet_path
        if fleet_text is not None:
            path = tmp_path / f"fleet{len(labs)}.yml"
            path.write_text(fleet_text)
        lab = Lab(tmp_path / f"state{len(labs)}", path, up_args)
        labs.append(lab)
        lab.up()
        return lab

    yield make
    for lab in labs:
        lab.down()


@pytest.fixture
def demo_lab(lab_factory):
    return lab_factory(fleet_path=DEMO)
