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

    It also imports the smb transport once (plugin_utils.smb.preload): Ansible templates a play's `hosts:` in its
    main process, before it forks a worker per host, so the workers inherit impacket instead of importing it."""
    if not _PRELOADED:
        _PRELOADED.append(smb.preload())
    try:
        return variables.normalise("q317061_targets", value)
    except variables.VariableError as error:
        if invalid is not None:
            return invalid
        raise AnsibleFilterError(str(error)) from None


class FilterModule:
    def filters(self):
        return {"q317061_serial": q317061_serial, "q317061_targets": q317061_targets}
