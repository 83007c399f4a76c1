"""make demo: what a report says, whole (summary lines and why the run failed), from its JSON.

The playbook's own "Show the fleet summary" output is YAML that wraps long lines; the demo reads the
report instead, so nothing is cut.
"""

import json
import sys

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import report as rpt


def main(path: str, label: str) -> None:
    with open(path, encoding="utf-8") as handle:
        report = json.load(handle)
    lines = rpt.summary_lines(report)
    print(f"   {lines[0]}")
    for line in lines[1:]:
        print(f"   {line}")
    for problem in rpt.problems(report):
        print(f"   the run fails (rc 2): {problem}")
    with open(f"{label}.txt", "w", encoding="utf-8") as handle:
        handle.write(lines[0] + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
