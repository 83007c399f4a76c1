# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-flight on the controller: refuse a wrong or tampered Q317061 hotfix bundle (plugin_utils/bundle.py).

The bundle is a controller folder, or an https URL of an archive pinned by its SHA-256 that is
downloaded and unpacked first (plugin_utils/archive.py)."""

from __future__ import annotations

import os

from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import archive, bundle, factcache


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("source", "platforms", "method", "sha256", "archive_sha256", "ca_path"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        spec = {
            "source": {"type": "str", "required": True},
            "platforms": {"type": "list", "elements": "str", "required": True},
            "method": {"type": "str", "choices": ["manual", "installer"], "default": "manual"},
            "sha256": {"type": "dict", "default": {}},
            "archive_sha256": {"type": "str", "default": ""},
            "ca_path": {"type": "str", "default": ""},
        }
        dummy, args = self.validate_argument_spec(argument_spec=spec)
        if not args["platforms"]:
            result.update(changed=False, refused=False, msg="no host needs the hotfix; the bundle was not checked",
                          ansible_facts={"q317061_bundle": {}})
            return result
        source = args["source"]
        try:
            if archive.is_url(source):
                ca_path = os.path.expanduser(args["ca_path"]) if args["ca_path"] else None
                source = archive.fetch(source, args["archive_sha256"],
                                       lambda url: open_url(url, ca_path=ca_path, timeout=60, validate_certs=True))
            else:
                source = os.path.expanduser(os.path.expandvars(source))
            files = bundle.check_bundle(source, args["platforms"], args["method"], args["sha256"])
        except (archive.ArchiveError, bundle.BundleError) as error:
            result.update(failed=True, refused=True, msg=f"{error}\nNo host was changed.")
            return result
        result.update(changed=False, refused=False, ansible_facts={"q317061_bundle": files},
                      msg=f"hotfix bundle {args['source']} is good for {', '.join(sorted(files))}")
        return factcache.plain_facts(result)  # set on every host of the play: a fact cache decodes every tag again
