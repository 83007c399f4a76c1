#!/usr/bin/env bash
# Benchmarks against the scale fleet (default 1,000 hosts, forks 50), one after another on one
# winlab: win_ping ad hoc and as a playbook (the floor), audit.yml, and the naive stock-module
# audit (bench/naive_audit.yml). For each: wall time, controller peak RSS, WinRM commands per host
# (from `winlab stats`), winlab RSS. Results go to docs/benchmarks.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
n=${BENCH_HOSTS:-1000}
forks=${BENCH_FORKS:-50}
out=tests/output/bench
state=$out/state
mkdir -p "$out"
winlab --state-dir "$state" down >/dev/null 2>&1 || true
rm -rf "$state"
python bench/scale_fleet.py "$n" > "$out/scale.yml"
trap 'winlab --state-dir "$state" down >/dev/null 2>&1 || true' EXIT
/usr/bin/time -f "winlab up: %e s" winlab --state-dir "$state" up --fleet "$out/scale.yml"
pid=$(python -c "import json;print(json.load(open('$state/winlab.json'))['pid'])")
rss() { awk '/VmRSS/{print $2/1024 " MiB"}' "/proc/$pid/status"; }
echo "winlab RSS idle: $(rss)"
inv="$state/inventory.yml"
run() {
  local name=$1; shift
  winlab --state-dir "$state" stats > "$out/$name.before.json"
  /usr/bin/time -f "$name: wall %e s, controller peak RSS %M KiB, CPU user %U s sys %S s" "$@" \
    > "$out/$name.log" 2> "$out/$name.time" || true
  winlab --state-dir "$state" stats > "$out/$name.after.json"
  tail -1 "$out/$name.time"
  python - "$out/$name.before.json" "$out/$name.after.json" <<'PY'
import collections, json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:])
per_host = collections.Counter(after[h]["commands"] - before[h]["commands"] for h in after)
print("  WinRM commands per host:", ", ".join(f"{c} on {n} hosts" for c, n in sorted(per_host.items())))
PY
  echo "  winlab RSS after: $(rss)"
  grep -E "unreachable=[1-9]|failed=[1-9]" "$out/$name.log" | head -3 || true
}
run win_ping_adhoc ansible -i "$inv" all -f "$forks" -m ansible.windows.win_ping
run win_ping_playbook ansible-playbook -i "$inv" -f "$forks" bench/ping.yml
run audit ansible-playbook -i "$inv" -f "$forks" playbooks/audit.yml -e "q317061_report_dir=$PWD/$out/reports"
run naive_audit ansible-playbook -i "$inv" -f "$forks" bench/naive_audit.yml
