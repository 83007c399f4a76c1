#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: q317061_restart
short_description: Restart an SMS 2.0 site server over WinRM or smb and wait until its services run
version_added: 0.2.0
description:
  - Over WinRM, runs M(ansible.windows.win_reboot) (a new boot time proves the restart), then waits until each
    service in O(wait_for_services) runs.
  - Over smb (Windows 2000), asks for the restart with the remote shutdown call of MS-RRP
    (C(BaseInitiateSystemShutdown), applications closed), waits until a new SMB session shows a new boot time
    (server statistics, MS-SRVS), then waits for the services through the service control manager.
  - The Exchange Information Store mounts the IFS drive only once it runs, so the workaround waits for
    C(MSExchangeIS) before it checks that no IFS drive letter is mounted.
  - In check mode nothing is restarted and the task reports C(changed).
  - This is an action plugin; the documentation lives here.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports the restart it would make.
  diff_mode:
    support: none
  platform:
    platforms: windows
options:
  msg:
    description: The message shown to a logged-on user before the restart.
    type: str
    default: Restarting for KB Q317061 (smsfleet.q317061)
  reboot_timeout:
    description: Seconds to wait for the host to come back and for the services to run, in all.
    type: int
    default: 900
  pre_reboot_delay:
    description: Seconds between the request and the restart.
    type: int
    default: 2
  wait_for_services:
    description: Services that must run before the task succeeds; a service the host does not have is not waited for.
    type: list
    elements: str
    default: []
notes:
  - Supports check mode.
author:
  - smsfleet maintainers (@smsfleet)
"""

EXAMPLES = r"""
- name: Restart the site server so EXIFS mounts no drive letter, and wait for the Information Store
  smsfleet.q317061.q317061_restart:
    reboot_timeout: 900
    wait_for_services: [MSExchangeIS]
"""

RETURN = r"""
rebooted:
  description: Whether the host restarted.
  returned: always
  type: bool
services:
  description: The state of each service in O(wait_for_services) at the end (null for a service the host lacks).
  returned: when the host restarted
  type: dict
  sample: {MSExchangeIS: running}
elapsed:
  description: Seconds from the request until the services ran.
  returned: when the host restarted
  type: int
"""
