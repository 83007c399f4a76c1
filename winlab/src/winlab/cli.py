"""winlab command line: up, down, status, stats, reset, distribute, fault, upgrade, hotfix-bundle."""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

from . import fleet as fleet_mod
from .builds import SP4_HRP_REVISION
from .state import StateDir
from .tls import LabCA

DEFAULT_STATE_DIR = os.environ.get("WINLAB_STATE_DIR", ".lab")


class CliError(Exception):
    pass


def control(state_dir: str, op: str, **params) -> dict:
    meta = StateDir(state_dir).read_meta()
    port = meta.get("control_port")
    if not port:
        raise CliError(f"winlab is not running for state dir {state_dir} (run 'winlab up' first)")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
            sock.sendall(json.dumps({"op": op, **params}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as error:
        raise CliError(f"winlab is not answering on its control port {port}: {error}") from None
    reply = json.loads(data)
    if "error" in reply:
        raise CliError(reply["error"])
    return reply


def _running(state_dir: str) -> bool:
    try:
        control(state_dir, "stats")
        return True
    except CliError:
        return False


def write_inventory(state_dir: str, path: pathlib.Path) -> None:
    import yaml
    status = control(state_dir, "status")["hosts"]
    store = StateDir(state_dir)
    meta = store.read_meta()
    groups: dict[str, dict] = {}
    single: dict[str, dict] = {}  # the spec's top-level hosts: members of site_servers itself
    default_transport = meta.get("transport", "winrm")
    for entry in status:
        state = json.loads((store.hosts_dir / f"{entry['name']}.json").read_text())
        hostvars = {"ansible_host": entry["address"], "ansible_port": entry["port"],
                    "ansible_user": state["username"], "ansible_password": state["password"]}
        if (state.get("transport") or default_transport) == "smb":  # SMB and RPC, as a Windows 2000 server is reached
            hostvars.update(ansible_connection="smsfleet.q317061.smb", ansible_port=entry["smb_port"])
        if state.get("expect"):
            hostvars["winlab_expect"] = state["expect"]
        (groups.setdefault(entry["group"], {}) if entry.get("group") else single)[entry["name"]] = hostvars
    if meta.get("https"):  # validate the endpoints' certificates against the lab CA, as production does
        transport = {"ansible_winrm_scheme": "https", "ansible_winrm_server_cert_validation": "validate",
                     "ansible_winrm_ca_trust_path": str(LabCA(store.root).ca_pem)}
    else:
        transport = {"ansible_winrm_scheme": "http", "ansible_winrm_server_cert_validation": "ignore"}
    inventory = {"all": {
        "vars": {"ansible_connection": "winrm", "ansible_winrm_transport": "basic", **transport,
                 "ansible_winrm_operation_timeout_sec": 20, "ansible_winrm_read_timeout_sec": 30,
                 # The lab's SP4 Hotfix Rollup Package build (winlab.builds.SP4_HRP_REVISION).
                 "q317061_sp4_hrp_revision": SP4_HRP_REVISION},
        "children": {"site_servers": {"children": {g: {"hosts": hosts} for g, hosts in sorted(groups.items())},
                                      **({"hosts": single} if single else {})}},
    }}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Written by 'winlab up': the running lab fleet. Lab credentials only.\n"
                    + yaml.safe_dump(inventory, sort_keys=False))


def cmd_up(args) -> int:
    state_dir = args.state_dir
    store = StateDir(state_dir)
    meta = store.read_meta()
    if _running(state_dir):
        raise CliError(f"winlab is already running for {store.root} (pid {meta.get('pid')})")
    fleet_path = args.fleet or meta.get("fleet")
    if not fleet_path:
        raise CliError("winlab up needs --fleet FILE the first time a state dir is used")
    fleet_path = str(pathlib.Path(fleet_path).resolve())
    fleet_mod.load(fleet_path)  # validate before starting anything
    if meta.get("fleet") and meta["fleet"] != fleet_path:
        store.clear_hosts()  # a different fleet: start from its spec
    meta.update(fleet=fleet_path, bind=args.bind)
    if args.https is not None:
        meta["https"] = args.https
    if args.transport is not None:
        meta["transport"] = args.transport
    if meta.get("https"):
        LabCA(store.root).ensure(args.bind)
    store.write_meta(meta)
    log = open(store.root / "winlab.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "winlab.server", "--state-dir", str(store.root)],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + args.timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise CliError(f"winlab exited during start-up (rc {proc.returncode}); see {store.root / 'winlab.log'}")
        if _running(state_dir):
            break
        time.sleep(0.1)
    else:
        proc.terminate()
        raise CliError(f"winlab did not start within {args.timeout}s")
    status = control(state_dir, "status")["hosts"]
    for entry in status:  # every endpoint, WinRM and SMB, answers before we return
        for port in (entry["port"], entry["smb_port"]):
            with socket.create_connection((entry["address"], port), timeout=10):
                pass
    inventory = pathlib.Path(args.inventory or store.root / "inventory.yml")
    write_inventory(state_dir, inventory)
    print(f"winlab: {len(status)} hosts up (pid {proc.pid}); inventory {inventory}")
    return 0


def cmd_down(args) -> int:
    meta = StateDir(args.state_dir).read_meta()
    pid = meta.get("pid")
    if not _running(args.state_dir):
        print("winlab: not running")
        return 0
    control(args.state_dir, "shutdown")
    deadline = time.time() + 30
    while pid and time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    print("winlab: down")
    return 0


def cmd_status(args) -> int:
    hosts = control(args.state_dir, "status")["hosts"]
    if args.json:
        print(json.dumps(hosts, indent=2))
        return 0
    for h in hosts:
        faults = ",".join(f"{k}={v}" for k, v in h["faults"].items()) or "-"
        print(f"{h['name']:<24} {h['address']}:{h['port']:<6} smb {h.get('smb_port') or '-':<6} "
              f"{'up' if h['up'] else 'DOWN':<5} {faults}")
    print(f"{sum(h['up'] for h in hosts)}/{len(hosts)} up")
    return 0


def cmd_stats(args) -> int:
    print(json.dumps(control(args.state_dir, "stats")["hosts"], indent=2))
    return 0


def cmd_reset(args) -> int:
    if _running(args.state_dir):
        print(f"winlab: reset {control(args.state_dir, 'reset')['reset']} hosts to their fleet spec")
    else:
        StateDir(args.state_dir).clear_hosts()
        print("winlab: host states cleared; the next 'winlab up' starts from the fleet spec")
    return 0


def cmd_distribute(args) -> int:
    reply = control(args.state_dir, "distribute", package=args.package)
    hosts = reply["hosts"]
    if args.json:
        print(json.dumps(reply, indent=2))
    else:
        for name, r in hosts.items():
            if r["arrived"] is None:
                continue
            print(f"{name:<24} {'arrived' if r['arrived'] else 'FAILED':<8} {r['drive'] or '-'}:  {r['reason']}")
    applicable = [r for r in hosts.values() if r["arrived"] is not None]
    arrived = sum(1 for r in applicable if r["arrived"])
    if not args.json:
        print(f"package {reply['package']}: arrived on {arrived}/{len(applicable)} site servers")
    return 0 if arrived == len(applicable) or not args.strict else 1


def cmd_fault(args) -> int:
    if args.kind not in fleet_mod.FAULT_KINDS:
        raise CliError(f"unknown fault kind {args.kind!r}; known: {', '.join(sorted(fleet_mod.FAULT_KINDS))}")
    kind = fleet_mod.FAULT_KINDS[args.kind]
    kind = str if kind is list else kind  # list kinds take one item per call
    if args.clear:
        value = None
    elif kind is bool:
        value = True
    elif args.value is None:
        raise CliError(f"fault {args.kind} needs a value")
    else:
        try:
            value = kind(args.value)
        except ValueError:
            raise CliError(f"fault {args.kind} needs a {kind.__name__} value (got {args.value!r})") from None
    reply = control(args.state_dir, "fault", host=args.host, kind=args.kind, value=value, clear=args.clear)
    print(json.dumps(reply))
    return 0


def cmd_upgrade(args) -> int:
    reply = control(args.state_dir, "upgrade", host=args.host, version=args.version)
    print(f"winlab: {reply['host']}: SMS files now {args.version}: {', '.join(reply['files'])}")
    return 0


def cmd_hotfix_bundle(args) -> int:
    from .bundle import write_bundle
    paths = write_bundle(pathlib.Path(args.dir), variant=args.variant)
    for p in paths:
        print(p)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="winlab", description=__doc__)
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help="where the fleet's state lives (default .lab)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("up", help="start the fleet in the background")
    p.add_argument("--fleet", help="fleet spec YAML (remembered in the state dir)")
    p.add_argument("--inventory", help="where to write the Ansible inventory (default <state dir>/inventory.yml)")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--https", action=argparse.BooleanOptionalAction, default=None,
                   help="serve WinRM over HTTPS with a lab CA in <state dir>/tls (remembered; --no-https turns it off)")
    p.add_argument("--transport", choices=["winrm", "smb"], default=None,
                   help="how the inventory reaches hosts whose spec names no transport (remembered; default winrm)")
    p.add_argument("--timeout", type=float, default=120)
    p.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop the fleet (state is kept)").set_defaults(func=cmd_down)
    p = sub.add_parser("status", help="hosts, endpoints, up/down, faults")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    sub.add_parser("stats", help="per host: shells, commands, bytes in/out (JSON)").set_defaults(func=cmd_stats)
    sub.add_parser("reset", help="return every host to its fleet spec").set_defaults(func=cmd_reset)
    p = sub.add_parser("distribute", help="distribute a package on every host; report which arrived")
    p.add_argument("--package")
    p.add_argument("--json", action="store_true")
    p.add_argument("--strict", action="store_true", help="exit 1 unless it arrived everywhere")
    p.set_defaults(func=cmd_distribute)
    p = sub.add_parser("fault", help="inject (or --clear) a fault on a host")
    p.add_argument("host")
    p.add_argument("kind")
    p.add_argument("value", nargs="?")
    p.add_argument("--clear", action="store_true")
    p.set_defaults(func=cmd_fault)
    p = sub.add_parser("upgrade", help="install an SMS build on a host as SMS Setup would (a later SP or hotfix)")
    p.add_argument("host")
    p.add_argument("version", help="e.g. 2.00.1493.4000")
    p.set_defaults(func=cmd_upgrade)
    p = sub.add_parser("hotfix-bundle", help="write a Q317061 hotfix bundle (KB layout, synthetic PE DLLs)")
    p.add_argument("dir")
    p.add_argument("--variant", default="good",
                   choices=["good", "wrong-version", "wrong-platform", "truncated", "missing-file"])
    p.set_defaults(func=cmd_hotfix_bundle)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (CliError, fleet_mod.SpecError) as error:
        print(f"winlab: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
