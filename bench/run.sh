#!/usr/bin/env bash
# Benchmarks against the scale fleet (default 1,000 hosts, forks 50), one after another on one
# winlab: win_ping ad hoc and as a playbook (the floor), audit.yml, and the naive stock-module
# audit (bench/naive_audit.yml). For each: wall time, controller peak RSS, WinRM commands per host
# (from `winlab stats`), winlab RSS; then the smb transport's audit of the same fleet (cold and warm
# hash cache) and one host over a 64 kbit/s link on both transports, with bytes and requests on the
# wire per host. Results go to docs/benchmarks.md by hand.
out=tests/output/bench
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
if [ "${BENCH_NAIVE:-1}" = 1 ]; then  # BENCH_NAIVE=0 skips the two slow comparisons (about 12 minutes)
  run win_ping_adhoc ansible -i "$inv" all -f "$forks" -m ansible.windows.win_ping
fi
run win_ping_playbook ansible-playbook -i "$inv" -f "$forks" bench/ping.yml
run audit ansible-playbook -i "$inv" -f "$forks" playbooks/audit.yml -e "q317061_report_dir=$PWD/$out/reports"
if [ "${BENCH_NAIVE:-1}" = 1 ]; then
  run naive_audit ansible-playbook -i "$inv" -f "$forks" bench/naive_audit.yml
fi

# smb vs WinRM (issue 13): the same fleet, every host switched to the smb transport. The first smb
# audit reads each DLL once in full (its SHA-256), later ones only headers and version resources:
# cold and warm runs use their own HOME, so the hash cache starts empty.
smb_inv="$state/inventory-smb.yml"
python bench/smb_inventory.py "$inv" "$state" > "$smb_inv"
rm -rf "$out/home" && mkdir -p "$out/home"
run audit_smb_cold env HOME="$PWD/$out/home" ansible-playbook -i "$smb_inv" -f "$forks" playbooks/audit.yml \
  -e "q317061_report_dir=$PWD/$out/reports-smb"
run audit_smb_warm env HOME="$PWD/$out/home" ansible-playbook -i "$smb_inv" -f "$forks" playbooks/audit.yml \
  -e "q317061_report_dir=$PWD/$out/reports-smb"

# One host over a 64 kbit/s link, both transports (warm hash cache for smb).
one=$(python -c "import yaml;i=yaml.safe_load(open('$inv'));g=next(iter(i['all']['children']['site_servers']['children'].values()));print(sorted(g['hosts'])[0])")
winlab --state-dir "$state" fault "$one" bandwidth_kbps 64 >/dev/null
# (WinRM's default read timeout, 30 s, is shorter than 290 KB takes at 64 kbit/s: give it time.)
run slow_link_winrm ansible-playbook -i "$inv" -l "$one" playbooks/audit.yml -e "q317061_report_dir=$PWD/$out/reports-slow" \
  -e ansible_winrm_read_timeout_sec=300 -e ansible_winrm_operation_timeout_sec=290
run slow_link_smb env HOME="$PWD/$out/home" ansible-playbook -i "$smb_inv" -l "$one" playbooks/audit.yml \
  -e "q317061_report_dir=$PWD/$out/reports-slow"
winlab --state-dir "$state" fault "$one" bandwidth_kbps --clear >/dev/null

