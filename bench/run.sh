#!/usr/bin/env bash
# Benchmarks against the scale fleet (default 1,000 hosts): win_ping (the floor) and audit.yml.
# Records wall time, winlab RSS and controller peak RSS. Results go to docs/benchmarks.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
n=${BENCH_HOSTS:-1000}
forks=${BENCH_FORKS:-50}
state=tests/output/bench/state
mkdir -p tests/output/bench
winlab --state-dir "$state" down >/dev/null 2>&1 || true
rm -rf "$state"
python bench/scale_fleet.py "$n" > tests/output/bench/scale.yml
trap 'winlab --state-dir "$state" down >/dev/null 2>&1 || true' EXIT
/usr/bin/time -f "winlab up: %e s" winlab --state-dir "$state" up --fleet tests/output/bench/scale.yml
pid=$(python -c "import json;print(json.load(open('$state/winlab.json'))['pid'])")
rss() { awk '/VmRSS/{print $2/1024 " MiB"}' "/proc/$pid/status"; }
echo "winlab RSS idle: $(rss)"
run() {
  local name=$1; shift
  /usr/bin/time -f "$name: wall %e s, controller peak RSS %M KiB" "$@" > "tests/output/bench/$name.log" 2> "tests/output/bench/$name.time" || true
  tail -1 "tests/output/bench/$name.time"
  echo "winlab RSS after $name: $(rss)"
}
run win_ping ansible -i "$state/inventory.yml" all -f "$forks" -m ansible.windows.win_ping
run audit ansible-playbook -i "$state/inventory.yml" -f "$forks" playbooks/audit.yml -e "q317061_report_dir=$PWD/tests/output/bench/reports"
python - "$state" <<'PY'
import json, subprocess, sys
stats = json.loads(subprocess.run(["winlab", "--state-dir", sys.argv[1], "stats"], capture_output=True, text=True, check=True).stdout)
commands = sorted({s["commands"] for s in stats.values()})
print(f"hosts: {len(stats)}, commands per host over both runs: {commands} (win_ping 1 + audit 1 = 2 expected)")
PY
grep -E "unreachable=[1-9]|failed=[1-9]" tests/output/bench/*.log | head -5 || true
