#!/usr/bin/env bash
# make demo: start the emulated demo fleet, audit it, show Distribution Manager failing
# where Q317061 bites, and point at the report. Remediation joins this script with the
# remediation issue (docs/remediation.md); until then the demo stops after the audit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
state=.lab
reports="$PWD/reports"
trap 'winlab --state-dir "$state" down >/dev/null 2>&1 || true' EXIT
winlab --state-dir "$state" down >/dev/null 2>&1 || true
rm -rf "$state"
echo "== 1. start the demo fleet (inventories/lab/fleets/demo.yml)"
winlab --state-dir "$state" up --fleet inventories/lab/fleets/demo.yml
echo "== 2. audit (changes nothing)"
ansible-playbook playbooks/audit.yml -e "q317061_report_dir=$reports" | sed -n '/TASK \[Show the fleet summary\]/,/PLAY RECAP/p' | grep -v "PLAY RECAP"
echo "== 3. distribute a package: where Q317061 bites, it never arrives"
winlab --state-dir "$state" distribute | tail -n 12
echo "== report: $reports/q317061-audit.html (also .json and .csv)"
