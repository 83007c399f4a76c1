# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the q317061_probe module once and classify its result on the controller."""

from __future__ import annotations

import datetime

from ansible.plugins.action import ActionBase

from ansible_collections.smsfleet.q317061.plugins.plugin_utils.classification import classify
from ansible_collections.smsfleet.q317061.plugins.plugin_utils.versions import FixPolicy

PROBE = "smsfleet.q317061.q317061_probe"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("sp4_hrp_revision", "later_service_packs_fixed", "log_tail_bytes"))
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        spec = {
            "sp4_hrp_revision": {"type": "int"},
            "later_service_packs_fixed": {"type": "bool", "default": True},
            "log_tail_bytes": {"type": "int", "default": 262144},
        }
        dummy, args = self.validate_argument_spec(argument_spec=spec)
        policy = FixPolicy(sp4_hrp_revision=args["sp4_hrp_revision"],
                           later_service_packs_fixed=args["later_service_packs_fixed"])

        probe = self._execute_module(module_name=PROBE, module_args={"log_tail_bytes": args["log_tail_bytes"]},
                                     task_vars=task_vars)
        if probe.get("failed") or "probe" not in probe:
            result.update(failed=True, msg=f"q317061 probe failed: {probe.get('msg', 'no probe result')}")
            return result

        raw = probe["probe"]
        verdict = classify(raw, policy).as_dict()
        sms = raw.get("sms") or {}
        facts = dict(
            verdict,
            computer_name=raw.get("computer_name"),
            site={"code": sms.get("site_code"), "type": sms.get("site_type"), "parent": sms.get("parent_site_code")},
            platform=sms.get("platform"),
            admin_console_running=sms.get("admin_console_running"),
            policy={"sp4_hrp_revision": policy.sp4_hrp_revision,
                    "later_service_packs_fixed": policy.later_service_packs_fixed},
            checked_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            probe=raw,
        )
        result.update(changed=False, ansible_facts={"q317061": facts})
        if raw.get("errors"):
            result["warnings"] = [f"q317061 probe could not read: {e}" for e in raw["errors"]]
        return result
