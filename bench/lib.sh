# Shared by the bench scripts: a fresh winlab with the scale fleet in $out/state, and run(), which
# times one command and prints the WinRM commands per host, the bytes per host and winlab's RSS.
# Sourced; the caller sets out (its output folder) and may set BENCH_HOSTS and BENCH_FORKS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
n=${BENCH_HOSTS:-1000}
forks=${BENCH_FORKS:-50}
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
import statistics
per_host = collections.Counter(after[h]["commands"] - before[h]["commands"] for h in after)
print("  WinRM commands per host:", ", ".join(f"{c} on {n} hosts" for c, n in sorted(per_host.items())))
active = [h for h in after if after[h]["requests"] > before[h]["requests"]
          or after[h]["smb"]["requests"] > before[h]["smb"]["requests"]] or list(after)
def median(key, side):  # over the hosts the run talked to
    values = [after[h][side][key] - before[h][side][key] if side else after[h][key] - before[h][key] for h in active]
    return statistics.median(values)
winrm = median("bytes_in", None) + median("bytes_out", None)
smb = median("bytes_in", "smb") + median("bytes_out", "smb")
print(f"  per host (median): WinRM {winrm / 1024:.1f} KiB in {median('requests', None):.0f} requests; "
      f"SMB {smb / 1024:.1f} KiB in {median('requests', 'smb'):.0f} requests, {median('connections', 'smb'):.0f} sessions")
PY
  echo "  winlab RSS after: $(rss)"
  grep -E "unreachable=[1-9]|failed=[1-9]" "$out/$name.log" | head -3 || true
}
