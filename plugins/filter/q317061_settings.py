# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the play keywords Ansible reads before any task runs (`serial`, `hosts`).

They use the same rules as every other variable (plugin_utils/variables.py), so a survey's
`1,25%,100%` becomes [1, '25%', '100%'] instead of crashing ansible-core.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.smsfleet.q317061.plugins.plugin_utils import smb, variables

_PRELOADED = []


# The plugins every host's task loads: loaded once here, before the workers fork, each worker finds the module
# imported and its DOCUMENTATION already parsed into option definitions (about 0.02 CPU-seconds per worker).
PRELOAD_PLUGINS = (("connection", "smsfleet.q317061.smb"), ("shell", "powershell"),
                   ("action", "smsfleet.q317061.q317061_facts"))


def _preload() -> bool:
    """impacket and the smb modules (plugin_utils.smb.preload), then the per-host plugins, in the main process only."""
    if not smb.preload():
        return False  # a worker (or no impacket): nothing to gain here
    from ansible.plugins import loader

    for kind, name in PRELOAD_PLUGINS:
        try:
            getattr(loader, f"{kind}_loader").get(name, class_only=True)
        except Exception:  # noqa: BLE001 - a head start only: the worker loads (and reports) it as it always would
            pass
    return True


def _normalise(name, value):
    try:
        return variables.normalise(name, value)
    except variables.VariableError as error:
        raise AnsibleFilterError(str(error)) from None


def q317061_serial(value=None):
    """`q317061_serial | default(omit) | smsfleet.q317061.q317061_serial` -> a list of batch sizes."""
    return _normalise("q317061_serial", value)


def q317061_targets(value=None, invalid=None):
    """`q317061_targets | default('all') | smsfleet.q317061.q317061_targets` -> a host pattern.

    With `invalid`, a malformed value gives that pattern instead of an error: the settings task passes
    '!all' (no host) so that its own check reports the value by the collection's rule, not as
    ansible-core's "Finalization of task args" failure.

    It also imports the smb transport and loads the per-host plugins once (_preload): Ansible templates a play's
    `hosts:` in its main process, before it forks a worker per host, so the workers inherit them instead of
    importing impacket and parsing plugin documentation again."""
    if not _PRELOADED:
        _PRELOADED.append(_preload())
    try:
        return variables.normalise("q317061_targets", value)
    except variables.VariableError as error:
        if invalid is not None:
            return invalid
        raise AnsibleFilterError(str(error)) from None


class FilterModule:
    def filters(self):
        return {"q317061_serial": q317061_serial, "q317061_targets": q317061_targets}
