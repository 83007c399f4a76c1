#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: q317061_dlls
short_description: Replace, restore or recover the SMS 2.0 Q317061 DLLs in one on-host transaction
version_added: 0.1.0
description:
  - Implements steps 4 to 8 of the manual method of KB Q317061 as one transaction on the site server, by the
    contract in C(plugins/plugin_utils/transaction.py) (docs/remediation.md), which the smb transport follows too.
  - One transaction per host; a second run while one is under way fails with "the host is busy" and changes nothing.
  - Closes or refuses to run beside the SMS Administrator console (O(admin_console)); stops the running
    services of O(services) in the given order (Site Component Manager first, KB Q199816), each after its running
    dependents, then the running dependents of WMI read at run time, then WMI; copies the current DLLs aside (the
    first originals are kept in O(backup_dir) for ever, with C(manifest.json)); copies the staged files in after
    checking their version and SHA-256; verifies them; starts exactly the services it stopped, in reverse order,
    each with a timeout.
  - A failure before the restart copies the previous files back and restarts the services before failing, so the
    host keeps the old or the new DLLs, never a mix. A failure while restarting keeps the verified new DLLs and
    starts what it can (roll forward).
  - Before every step it writes O(journal) (durably, through a temporary file). If a previous run was killed
    mid-transaction (host crash, dropped WinRM shell), the next run recovers it first - C(state=recovered) does
    only that.
  - Never downgrades - a file newer than the wanted build is kept. A missing or unversioned installed file is
    refused, as is any file name with a folder part. With C(state=restored) it puts back the
    originals only while the installed files are still what the hotfix installed, and refuses otherwise.
  - The action plugin runs it with C(async) over WinRM, so a dropped WinRM connection cannot kill it
    mid-transaction. Over smb (Windows 2000, C(ansible_connection=smsfleet.q317061.smb)) the action plugin runs the
    same transaction from the controller by the same contract and journal; a dropped SMB session is reconnected
    and recovered at once. Over smb the SMS Administrator console cannot be closed - a DLL still in use once the
    SMS services and WMI stopped fails the transaction, which rolls back.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what it would replace, restore or recover; creates no file, folder or lock on the host.
  diff_mode:
    support: partial
    details: Over smb the diff is the DLL versions before and after; over WinRM the versions are in RV(before) and RV(after).
  platform:
    platforms: windows
options:
  state:
    description:
      - C(replaced) installs O(files); C(restored) restores the originals recorded in O(backup_dir);
        C(recovered) only recovers an unfinished transaction.
    type: str
    choices: [replaced, restored, recovered]
    default: replaced
  bin_dir:
    description:
      - The folder holding the DLLs, C(<SMS root>\bin\<platform>). Required with C(replaced) and C(restored).
    type: path
  files:
    description:
      - The files to install with C(state=replaced) (required then).
    type: list
    elements: dict
    suboptions:
      name:
        description: File name in O(bin_dir), for example C(Distmgr.dll).
        type: str
        required: true
      source:
        description: Path of the staged new file on the host.
        type: path
        required: true
      local:
        description:
          - The controller's checked copy of the file (the hotfix bundle's cache). When given, the action plugin
            stages it first. Over WinRM it uploads a gzip copy (one command, about half the bytes) into the
            connecting user's temp folder and sets O(files[].upload); it skips a file the probe found staged with
            the same SHA-256. Over smb it is required, and its bytes are written into O(bin_dir) by the
            transaction itself. Never sent to the host.
        type: path
      upload:
        description:
          - A gzip copy of the file the action plugin uploaded. The module expands it into O(files[].source) (in
            the work folder, whose permissions it sets first), deletes it, and then checks O(files[].source) as
            always (version and SHA-256). Ignored in check mode.
        type: path
      version:
        description: The file version the staged file has and O(bin_dir) must have afterwards.
        type: str
        required: true
      sha256:
        description: SHA-256 of the bundle's file; the staged file must match it before anything changes.
        type: str
        required: true
  backup_dir:
    description:
      - Where the original DLLs and C(manifest.json) are kept. Required with C(replaced) and C(restored).
    type: path
  journal:
    description:
      - Path of the transaction journal (JSON). Its folder is the work folder (created for SYSTEM and
        Administrators only) and holds the lock file.
    type: path
    required: true
  services:
    description:
      - The SMS services, in stop order. Only the ones running are stopped and restarted.
    type: list
    elements: str
    default: []
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
      - Seconds to wait for each service to stop, and to start, before the step counts as failed.
    type: int
    default: 120
  transaction_id:
    description:
      - The id the controller recorded for this transaction; written into the journal, so a later recovery can
        tell the controller's own unfinished transaction from a journal planted on the host.
      - The action plugin sets it.
    type: str
  expect:
    description:
      - What the controller recorded (its own record, not the host's files) - C(transactions) (by id, the SHA-256
        of each file before that transaction), C(originals) and C(installed) (SHA-256 by file name).
      - A recovery happens only when the journal carries a recorded id, and copies undo files back only when they
        match what was recorded before that transaction; C(state=restored) restores backups only when the manifest
        matches C(originals) and C(installed). Without it, a recovery or a rollback that would copy anything is
        refused.
      - The action plugin sets it from the controller's record.
    type: dict
notes:
  - Supports check mode (reports the services it would stop, the versions before and after, and a recovery it
    would do) and diff mode (emptied when the change was rolled back).
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
        local: /home/ops/.ansible/smsfleet.q317061/bundles/0c3a8d1f5e0f6b2a9d4c7e8f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d
        source: C:\SMSFleet\Q317061\staged\i386\Baseutil.dll
        version: 2.00.1493.3240
        sha256: 0c3a8d1f5e0f6b2a9d4c7e8f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d
      - name: Distmgr.dll
        source: C:\SMSFleet\Q317061\staged\i386\Distmgr.dll
        version: 2.00.1493.3240
        sha256: 7d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e
    backup_dir: C:\SMSFleet\Q317061\backup
    journal: C:\SMSFleet\Q317061\journal.json
    services: [SMS_SITE_COMPONENT_MANAGER, SMS_EXECUTIVE, SMS_SQL_MONITOR]
    admin_console: close

- name: Recover a transaction a crash interrupted, and nothing else
  smsfleet.q317061.q317061_dlls:
    state: recovered
    journal: C:\SMSFleet\Q317061\journal.json

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
recovered:
  description: The unfinished earlier transaction this run recovered (or would, in check mode), else null.
  returned: always
  type: dict
  sample: {"phase": "replacing", "action": "roll_back"}
lock:
  description: The lock file held while the module ran (null in check mode unless a lock file already exists;
    check mode creates none).
  returned: always
  type: str
  sample: C:\SMSFleet\Q317061\q317061.lock
"""
