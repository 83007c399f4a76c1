#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: q317061_exifs
short_description: Hide the Exchange IFS drive from SMS 2.0 (KB Q317061 workaround), or put it back
version_added: 0.2.0
description:
  - The workaround of KB Q317061 in one step, over WinRM (this PowerShell module) or smb (the action plugin
    works the remote registry from the controller); the rules are the same and live in
    C(plugins/plugin_utils/exifs.py).
  - C(state=hidden) records the original C(HKLM\SYSTEM\CurrentControlSet\Services\EXIFS\Parameters\DriveLetter)
    once (its value and whether it was present) under the collection's fixed key C(HKLM\SOFTWARE\smsfleet\Q317061)
    (values C(OriginalDriveLetter), C(OriginalDriveLetterState)), then sets C(DriveLetter) to an empty string. A
    second run changes nothing and never overwrites the record.
  - C(state=restored) puts the recorded value back (or removes C(DriveLetter) where it was absent), then deletes
    only the two values it recorded, and the key only when nothing else is in it. Without a record it changes
    nothing.
  - The change takes effect at the next boot (M(smsfleet.q317061.q317061_restart)); until then the host is
    C(pending_reboot). Outlook Web Access may stop working while the IFS drive has no letter (KB Q317061).
  - Fails, changing nothing, on a host without EXIFS.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: windows
options:
  state:
    description: C(hidden) applies the workaround; C(restored) rolls it back.
    type: str
    choices: [hidden, restored]
    default: hidden
notes:
  - Supports check mode and diff mode.
  - The record key is fixed on purpose; it is not a setting.
seealso:
  - module: smsfleet.q317061.q317061_restart
author:
  - smsfleet maintainers (@smsfleet)
"""

EXAMPLES = r"""
- name: Hide the IFS drive by blanking DriveLetter, recording the original first
  smsfleet.q317061.q317061_exifs:
    state: hidden

- name: Put the original DriveLetter back
  smsfleet.q317061.q317061_exifs:
    state: restored
"""

RETURN = r"""
before:
  description: C(DriveLetter) before the run.
  returned: always
  type: dict
  sample: {drive_letter: M, drive_letter_present: true}
after:
  description: C(DriveLetter) after the run (what it would be, in check mode).
  returned: always
  type: dict
  sample: {drive_letter: '', drive_letter_present: true}
record:
  description: The record of the original as found before the run.
  returned: always
  type: dict
  sample: {present: true, original: M, original_state: present}
recorded:
  description: Whether this run recorded the original (C(state=hidden)).
  returned: when state is hidden
  type: bool
restored:
  description: The value put back (C(null) when C(DriveLetter) was removed or nothing was recorded).
  returned: when state is restored
  type: str
drive_letter_changed:
  description: Whether C(DriveLetter) itself changed (C(state=restored)); a restart is needed only then.
  returned: when state is restored
  type: bool
"""
