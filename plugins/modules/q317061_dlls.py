#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: q317061_dlls
short_description: Replace or restore the SMS 2.0 Q317061 DLLs in one on-host transaction
version_added: 0.1.0
description:
  - Implements steps 4 to 8 of the manual method of KB Q317061 as one transaction on the site server.
  - Closes or refuses to run beside the SMS Administrator console (I(admin_console)); stops the running
    services of I(services) in the given order (Site Component Manager first, KB Q199816), then the running
    dependents of WMI read at run time, then WMI; copies the current DLLs to I(backup_dir) with a manifest of
    their versions; copies the new files in; verifies their file versions; starts exactly the services it
    stopped, in reverse order.
  - On any failure it copies the previous files back and restarts the services before failing, so the host
    keeps either the old or the new DLLs, never a mix, and SMS runs as before.
  - Before every step it writes I(journal). If a previous run's process was killed mid-transaction (host crash,
    WinRM service restart), the next run finds an unfinished journal, rolls that transaction back, and then
    does the work asked for.
  - With I(state=restored) it puts back the files recorded in C(<backup_dir>\manifest.json).
  - Idempotent; does nothing when the files already have the wanted versions.
options:
  state:
    description:
      - C(replaced) installs I(files); C(restored) restores the backup in I(backup_dir).
    type: str
    choices: [replaced, restored]
    default: replaced
  bin_dir:
    description:
      - The folder holding the DLLs, C(<SMS root>\bin\<platform>).
    type: path
    required: true
  files:
    description:
      - The files to install with I(state=replaced).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: File name in I(bin_dir), for example C(Distmgr.dll).
        type: str
        required: true
      source:
        description: Path of the staged new file on the host.
        type: path
        required: true
      version:
        description: The file version the staged file has and I(bin_dir) must have afterwards.
        type: str
        required: true
  backup_dir:
    description:
      - Where the previous DLLs and C(manifest.json) are kept (and restored from).
    type: path
    required: true
  journal:
    description:
      - Path of the transaction journal (JSON).
    type: path
    required: true
  services:
    description:
      - The SMS services, in stop order. Only the ones running are stopped and restarted.
    type: list
    elements: str
    required: true
  wmi_service:
    description:
      - Name of the WMI service, stopped last together with its running dependents.
    type: str
    default: Winmgmt
  admin_console:
    description:
      - What to do when the SMS Administrator console (C(mmc.exe) with C(sms.msc)) runs.
      - C(refuse) fails the host before anything changes; C(close) stops the console process.
    type: str
    choices: [refuse, close]
    default: refuse
  stop_timeout:
    description:
      - Seconds to wait for each service to stop before the transaction is rolled back.
    type: int
    default: 120
notes:
  - Supports check mode (reports the services it would stop and the versions before and after) and diff mode.
seealso:
  - module: smsfleet.q317061.q317061_facts
  - name: KB Q317061
    description: Distribution Manager uses the Exchange 2000 IFS drive
    link: https://support.microsoft.com/kb/317061
author:
  - smsfleet maintainers (@smsfleet)
"""

EXAMPLES = r"""
- name: Install the staged Q317061 DLLs
  smsfleet.q317061.q317061_dlls:
    bin_dir: D:\SMS\bin\i386
    files:
      - name: Baseutil.dll
        source: C:\SMSFleet\Q317061\staged\i386\Baseutil.dll
        version: 2.00.1493.3240
      - name: Distmgr.dll
        source: C:\SMSFleet\Q317061\staged\i386\Distmgr.dll
        version: 2.00.1493.3240
    backup_dir: C:\SMSFleet\Q317061\backup
    journal: C:\SMSFleet\Q317061\journal.json
    services: [SMS_SITE_COMPONENT_MANAGER, SMS_EXECUTIVE, SMS_SQL_MONITOR]
    admin_console: close

- name: Put the original DLLs back
  smsfleet.q317061.q317061_dlls:
    state: restored
    bin_dir: D:\SMS\bin\i386
    backup_dir: C:\SMSFleet\Q317061\backup
    journal: C:\SMSFleet\Q317061\journal.json
    services: [SMS_SITE_COMPONENT_MANAGER, SMS_EXECUTIVE, SMS_SQL_MONITOR]
"""

RETURN = r"""
before:
  description: File versions in I(bin_dir) before the run, by file name.
  returned: always
  type: dict
  sample: {"Baseutil.dll": "2.00.1493.3000", "Distmgr.dll": "2.00.1493.3000"}
after:
  description: File versions in I(bin_dir) after the run (the wanted ones in check mode).
  returned: always
  type: dict
  sample: {"Baseutil.dll": "2.00.1493.3240", "Distmgr.dll": "2.00.1493.3240"}
plan:
  description: What the transaction does or would do.
  returned: changed
  type: dict
  sample: {"stop": ["SMS_SITE_COMPONENT_MANAGER", "SMS_EXECUTIVE", "Winmgmt"], "close_console": false,
           "files": ["Baseutil.dll", "Distmgr.dll"]}
stopped:
  description: Services stopped, in order.
  returned: always
  type: list
  elements: str
restarted:
  description: Services started again, in order.
  returned: always
  type: list
  elements: str
journal:
  description: Whether an interrupted earlier transaction was found and rolled back, and in which phase.
  returned: always
  type: dict
  sample: {"recovered": false, "phase": null}
"""
