#!/usr/bin/env bash
# Remediation at fleet scale (issue 14), every figure from one run on one winlab: the win_ping
# playbook (the floor), audit.yml, remediate.yml with every wave at 100 % (the hotfix bundle from
# `winlab hotfix-bundle`), remediate.yml again with nothing left to change, and audit.yml again.
# Then the goals' figures: WinRM commands and bytes in per changed host (by what changed) and per
# untouched host, the wall-time ratios, and the controller's peak RSS. Results go to
# docs/benchmarks.md by hand.
out=tests/output/bench-remediation
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bundle="$PWD/$out/bundle"
rm -rf "$bundle" && winlab hotfix-bundle "$bundle" >/dev/null
reports="$PWD/$out/reports"
remediate=(ansible-playbook -i "$inv" -f "$forks" playbooks/remediate.yml -e "q317061_hotfix_source=$bundle"
  -e "q317061_serial=100%" -e "q317061_report_dir=$reports")
run win_ping_playbook ansible-playbook -i "$inv" -f "$forks" bench/ping.yml
run audit ansible-playbook -i "$inv" -f "$forks" playbooks/audit.yml -e "q317061_report_dir=$reports"
run remediate "${remediate[@]}" -e q317061_report_basename=first
run remediate_again "${remediate[@]}" -e q317061_report_basename=again
run audit_again ansible-playbook -i "$inv" -f "$forks" playbooks/audit.yml -e "q317061_report_dir=$reports"

python - "$out" "$reports" <<'PY'
import collections, json, pathlib, re, statistics, sys
out, reports = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def timing(name):
    text = (out / f"{name}.time").read_text()
    wall, rss = re.search(r"wall ([\d.]+) s, controller peak RSS (\d+) KiB", text).groups()
    return float(wall), int(rss) / 1024
def delta(name):
    before, after = (json.loads((out / f"{name}.{side}.json").read_text()) for side in ("before", "after"))
    return {h: {k: after[h][k] - before[h][k] for k in ("commands", "bytes_in", "bytes_out")} for h in after}
def outcomes(report):
    rows = json.loads((reports / f"{report}.json").read_text())["hosts"]
    return {r["host"]: ((r.get("change") or {}).get("action"), (r.get("change") or {}).get("outcome")) for r in rows}
def figures(name, report):
    use, kinds = delta(name), collections.defaultdict(list)
    for host, (action, outcome) in outcomes(report).items():
        kinds[f"{action} {outcome}" if outcome == "changed" else "untouched" if outcome != "failed" else "failed"].append(host)
    for kind, hosts in sorted(kinds.items()):
        commands = [use[h]["commands"] for h in hosts]
        bytes_in = [use[h]["bytes_in"] for h in hosts]
        print(f"  {name}, {kind} ({len(hosts)} hosts): WinRM commands {min(commands)}-{max(commands)}, "
              f"bytes in max {max(bytes_in) / 1e6:.2f} MB, median {statistics.median(bytes_in) / 1e6:.2f} MB")
print("remediation figures")
figures("remediate", "first")
figures("remediate_again", "again")
walls = {n: timing(n) for n in ("win_ping_playbook", "audit", "remediate", "remediate_again", "audit_again")}
for n, (wall, rss) in walls.items():
    print(f"  {n}: {wall:.1f} s, controller peak RSS {rss:.0f} MiB")
print(f"  audit / win_ping playbook: {walls['audit'][0] / walls['win_ping_playbook'][0]:.2f} (goal <= 1.2)")
print(f"  remediate with nothing to change / audit: {walls['remediate_again'][0] / walls['audit_again'][0]:.2f} "
      f"(against the audit after it; {walls['remediate_again'][0] / walls['audit'][0]:.2f} against the first) (goal <= 1.3)")
print(f"  the whole remediation: {walls['remediate'][0]:.1f} s (goal <= 90 s), peak RSS {walls['remediate'][1]:.0f} MiB "
      "(goal <= 200 MiB)")
PY
