#!/usr/bin/env bash
# The smb transport at fleet scale (issue 24), every figure from one run on one winlab (the scale fleet,
# default 1,000 hosts, forks 50): the WinRM audit, then the smb audit of the same fleet cold (empty home, empty
# fact cache: every DLL read once in full), warm (the controller's hash cache), and as a fresh AWX container (an
# empty home, the fact cache of the runs before), the WinRM audit again, and twice with a fact cache as the smb
# audits have one (the pair that differs by the transport alone), then the smb remediation (every wave at 100 %,
# the bundle from `winlab hotfix-bundle`). For each: wall, controller CPU and peak RSS, SMB requests and bytes per host, requests
# by SMB command. Results go to docs/benchmarks.md by hand.
out=tests/output/bench-smb
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
smb_inv="$state/inventory-smb.yml"
python bench/smb_inventory.py "$inv" "$state" > "$smb_inv"
facts="$PWD/$out/facts"
rm -rf "$out/home" "$out/home-fresh" "$facts" && mkdir -p "$out/home" "$out/home-fresh"
cached=(env ANSIBLE_CACHE_PLUGIN=ansible.builtin.jsonfile "ANSIBLE_CACHE_PLUGIN_CONNECTION=$facts")
bundle="$PWD/$out/bundle"
rm -rf "$bundle" && winlab hotfix-bundle "$bundle" >/dev/null
run audit_winrm ansible-playbook -i "$inv" -f "$forks" playbooks/audit.yml -e "q317061_report_dir=$PWD/$out/reports"
run audit_smb_cold "${cached[@]}" HOME="$PWD/$out/home" ANSIBLE_HOME="$PWD/$out/home/.ansible" ansible-playbook -i "$smb_inv" -f "$forks" \
  playbooks/audit.yml -e "q317061_report_dir=$PWD/$out/reports-smb"
run audit_smb_warm "${cached[@]}" HOME="$PWD/$out/home" ANSIBLE_HOME="$PWD/$out/home/.ansible" ansible-playbook -i "$smb_inv" -f "$forks" \
  playbooks/audit.yml -e "q317061_report_dir=$PWD/$out/reports-smb"
run audit_smb_fresh_container "${cached[@]}" HOME="$PWD/$out/home-fresh" ANSIBLE_HOME="$PWD/$out/home-fresh/.ansible" ansible-playbook -i "$smb_inv" -f "$forks" \
  playbooks/audit.yml -e "q317061_report_dir=$PWD/$out/reports-smb"
run audit_winrm_again ansible-playbook -i "$inv" -f "$forks" playbooks/audit.yml -e "q317061_report_dir=$PWD/$out/reports"
# The WinRM audit with the smb audits' fact cache setting (its own folder): the pair that differs by the transport
# alone. An AWX job template caches facts for either transport, and the cache costs the controller per host.
winrm_cached=(env ANSIBLE_CACHE_PLUGIN=ansible.builtin.jsonfile "ANSIBLE_CACHE_PLUGIN_CONNECTION=$PWD/$out/facts-winrm")
rm -rf "$out/facts-winrm"
run audit_winrm_cached "${winrm_cached[@]}" ansible-playbook -i "$inv" -f "$forks" playbooks/audit.yml -e "q317061_report_dir=$PWD/$out/reports"
run audit_winrm_cached_again "${winrm_cached[@]}" ansible-playbook -i "$inv" -f "$forks" playbooks/audit.yml -e "q317061_report_dir=$PWD/$out/reports"
run remediate_smb "${cached[@]}" HOME="$PWD/$out/home" ANSIBLE_HOME="$PWD/$out/home/.ansible" ansible-playbook -i "$smb_inv" -f "$forks" \
  playbooks/remediate.yml -e "q317061_hotfix_source=$bundle" -e "q317061_serial=100%" \
  -e "q317061_report_dir=$PWD/$out/reports-smb"

python - "$out" "$n" <<'PY'
import collections, json, pathlib, re, statistics, sys
out, hosts = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def timing(name):
    text = (out / f"{name}.time").read_text()
    wall, rss, user, system = re.search(r"wall ([\d.]+) s, controller peak RSS (\d+) KiB, CPU user ([\d.]+) s sys ([\d.]+) s",
                                        text).groups()
    return float(wall), int(rss) / 1024, float(user) + float(system)
def smb(name):
    before, after = (json.loads((out / f"{name}.{side}.json").read_text()) for side in ("before", "after"))
    talked = [h for h in after if after[h]["smb"]["requests"] > before[h]["smb"]["requests"]]
    requests = [after[h]["smb"]["requests"] - before[h]["smb"]["requests"] for h in talked]
    moved = [sum(after[h]["smb"][k] - before[h]["smb"][k] for k in ("bytes_in", "bytes_out")) for h in talked]
    kinds = collections.Counter()
    for h in talked:
        for k, v in after[h].get("smb_commands", {}).items():
            kinds[k] += v - before[h].get("smb_commands", {}).get(k, 0)
    return talked, requests, moved, kinds
print("smb at fleet scale")
for name in ("audit_winrm", "audit_smb_cold", "audit_smb_warm", "audit_smb_fresh_container", "audit_winrm_again",
             "audit_winrm_cached", "audit_winrm_cached_again", "remediate_smb"):
    wall, rss, cpu = timing(name)
    line = f"  {name}: wall {wall:.1f} s, controller CPU {cpu:.0f} s ({cpu / hosts:.3f} s per host), peak RSS {rss:.0f} MiB"
    talked, requests, moved, kinds = smb(name)
    if talked:
        line += (f"; {len(talked)} hosts over SMB: requests per host median {statistics.median(requests):.0f} "
                 f"(max {max(requests)}), {statistics.median(moved) / 1024:.1f} KiB per host (max {max(moved) / 1024:.1f})")
        line += "\n    by command, per host: " + ", ".join(f"{k} {v / len(talked):.1f}" for k, v in kinds.most_common())
    print(line)
winrm = min(timing("audit_winrm")[0], timing("audit_winrm_again")[0])
print(f"  smb audit (warm) / WinRM audit, wall: {timing('audit_smb_warm')[0] / winrm:.2f} (goal <= 1.3; the faster "
      "of the two WinRM runs, without a fact cache)")
winrm_cached = min(timing("audit_winrm_cached")[0], timing("audit_winrm_cached_again")[0])
print(f"  smb audit (warm) / WinRM audit with the same fact cache, wall: {timing('audit_smb_warm')[0] / winrm_cached:.2f} "
      "(the faster of the two)")
PY
