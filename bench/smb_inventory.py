#!/usr/bin/env python3
"""The lab inventory with every host switched to the smb transport (its SMB port from winlab's state).

Usage: smb_inventory.py INVENTORY STATE_DIR > inventory-smb.yml   (bench/run.sh does this for you)
"""

import json
import pathlib
import sys

import yaml


def switch(inventory: dict, state_dir: pathlib.Path) -> dict:
    for group in inventory["all"]["children"]["site_servers"]["children"].values():
        for name, hostvars in (group.get("hosts") or {}).items():
            state = json.loads((state_dir / "hosts" / f"{name}.json").read_text())
            hostvars.update(ansible_connection="smsfleet.q317061.smb", ansible_port=state["smb_port"])
    return inventory


if __name__ == "__main__":
    source, state = sys.argv[1], pathlib.Path(sys.argv[2])
    print(yaml.safe_dump(switch(yaml.safe_load(pathlib.Path(source).read_text()), state)))
