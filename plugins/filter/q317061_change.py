# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter: the report's change record of one host (plugin_utils/plans.change_record)."""

from __future__ import annotations

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.plans import change_record


def q317061_change(plan, result=None, error=None, attempted=True, refused=None):
    """`plan | smsfleet.q317061.q317061_change(result, error)` -> {action, outcome, changed, summary, before, after}."""
    return change_record(plan or {}, result if isinstance(result, dict) else None, error or None, bool(attempted),
                         refused or None)


class FilterModule:
    def filters(self):
        return {"q317061_change": q317061_change}
