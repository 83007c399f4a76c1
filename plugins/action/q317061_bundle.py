# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-flight on the controller: refuse a wrong or tampered Q317061 hotfix bundle (plugin_utils/bundle.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import bundle


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("source", "platforms", "method", "sha256"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        spec = {
            "source": {"type": "path", "required": True},
            "platforms": {"type": "list", "elements": "str", "required": True},
            "method": {"type": "str", "choices": ["manual", "installer"], "default": "manual"},
            "sha256": {"type": "dict", "default": {}},
        }
        dummy, args = self.validate_argument_spec(argument_spec=spec)
        if not args["platforms"]:
            result.update(changed=False, msg="no host needs the hotfix; the bundle was not checked",
                          ansible_facts={"q317061_bundle": {}})
            return result
        try:
            files = bundle.check_bundle(args["source"], args["platforms"], args["method"], args["sha256"])
        except bundle.BundleError as error:
            result.update(failed=True, msg=f"{error}\nNo host was changed.")
            return result
        result.update(changed=False, ansible_facts={"q317061_bundle": files},
                      msg=f"hotfix bundle {args['source']} is good for {', '.join(sorted(files))}")
        return result
