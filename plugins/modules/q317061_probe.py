#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: q317061_probe
short_description: Read the raw facts needed to classify an SMS 2.0 site server for KB Q317061
version_added: 0.1.0
description:
  - Reads, in one module execution, everything the Q317061 classification needs from a Windows host.
  - SMS site server identity from C(HKLM\SOFTWARE\Microsoft\SMS\Identification) (C(Installation Directory),
    C(Site Code), C(Site Type), C(Parent Site Code)) and C(Full Version) from C(HKLM\SOFTWARE\Microsoft\SMS\Setup),
    which may be absent on secondary sites (KB Q267258).
  - The platform from the SMS installation itself (C(bin\i386) or C(bin\alpha)), never from the processor
    architecture of the OS.
  - File version, numeric language ID (and its name), size, SHA-256 and last write time of C(Baseutil.dll) and
    C(Distmgr.dll) in C(<SMS root>\bin\<platform>).
  - States of the SMS services, WMI, EXIFS, IIS and the Exchange Information Store (.NET's names, for example
    C(stoppending)), with their dependents that are not stopped.
  - Whether the SMS Administrator console runs (C(mmc.exe) with C(sms.msc) on its command line).
  - The OS version, the last boot time (UTC) and the time zone bias, so log lines can be dated.
  - The EXIFS service, its C(Parameters\DriveLetter) value (absent, empty or a letter), the Exchange version
    (C(MsiProductMajor.MsiProductMinor)) and whether SharePoint Portal Server is installed.
  - Every logical drive with type, file system, label, size, total free space (what Distribution Manager sees)
    and DOS device target (the EXIFS drive points at C(\??\BackOfficeStorage)).
  - Whether Distribution Manager's tracing is on (off by default in SMS 2.0), and the lines of C(distmgr.log)
    and its rolled-over C(distmgr.lo_) that mention decompression.
  - The transaction journal of M(smsfleet.q317061.q317061_dlls) in O(work_dir) (phase, start, state).
  - It changes nothing. A value that cannot be read is returned as C(null) and described in RV(probe.errors).
  - Most users want M(smsfleet.q317061.q317061_facts), which runs this module and classifies the result.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: none
  platform:
    platforms: windows
options:
  services:
    description:
      - Services whose state and running dependents are reported. Missing services are left out.
    type: list
    elements: str
    default: [SMS_SITE_COMPONENT_MANAGER, SMS_EXECUTIVE, SMS_SQL_MONITOR, SMS_SITE_BACKUP,
              SMS_NT_LOGON_DISCOVERY_AGENT, SMS_LICENSE_SERVER, Winmgmt, EXIFS, W3SVC, MSExchangeIS]
  log_tail_bytes:
    description:
      - How many bytes at the end of C(distmgr.log) are searched for decompression messages.
    type: int
    default: 262144
  max_log_lines:
    description:
      - At most this many matching log lines (the most recent) are returned; C(0) returns none.
    type: int
    default: 50
  work_dir:
    description:
      - The remediation work folder, whose C(journal.json) is reported.
    type: path
    default: C:\SMSFleet\Q317061
notes:
  - Supports check mode; the module never changes the host.
seealso:
  - module: smsfleet.q317061.q317061_facts
author:
  - smsfleet maintainers (@smsfleet)
"""

EXAMPLES = r"""
- name: Read the raw Q317061 facts of a site server
  smsfleet.q317061.q317061_probe:
  register: raw

- name: Only look at the last 64 KiB of distmgr.log
  smsfleet.q317061.q317061_probe:
    log_tail_bytes: 65536
"""

RETURN = r"""
probe:
  description: The raw facts, uninterpreted.
  returned: always
  type: dict
  contains:
    schema:
      description: Version of this dictionary's layout (the smb transport returns the same one).
      type: int
      sample: 2
    computer_name:
      description: NetBIOS name of the host.
      type: str
      sample: SITE01
    os_version:
      description: Windows version.
      type: str
      sample: 5.0.2195.0
    boot_time:
      description: Last boot time, UTC, ISO 8601.
      type: str
      sample: '2026-11-20T08:00:00.0000000Z'
    time_bias_minutes:
      description: ActiveTimeBias of the host (UTC = local time + bias), to date SMS log lines.
      type: int
      sample: 300
    sms:
      description: SMS site server identity, version and the two DLLs of the fix.
      type: dict
      sample:
        installed: true
        install_dir: D:\SMS
        site_code: P01
        site_type: primary
        parent_site_code: null
        full_version: 2.00.1493.3000
        full_version_present: true
        platform: i386
        admin_console_running: false
        dlls:
          Baseutil.dll: {path: D:\SMS\bin\i386\Baseutil.dll, exists: true, version: 2.00.1493.3000,
                         size: 526272, sha256: 3f0c..., language_id: 1033, language: English (United States),
                         modified: '2001-06-12T10:00:00.0000000Z'}
    services:
      description: Reported services that exist, with state and running dependents.
      type: list
      elements: dict
      sample: [{name: Winmgmt, state: running, dependents: [SMS_SITE_COMPONENT_MANAGER]}]
    exifs:
      description:
        - EXIFS service and drive letter configuration and who owns it.
        - C(parameters_written) is the LastWriteTime of the EXIFS C(Parameters) key over smb (how a blanked
          DriveLetter not yet restarted is told there); always null from this module, which reads DOS device targets.
      type: dict
      sample: {service_present: true, drive_letter: M, drive_letter_present: true, parameters_written: null,
               exchange_version: '6.0', sharepoint_portal_server: false}
    drives:
      description: Every logical drive as Windows reports it.
      type: list
      elements: dict
      sample: [{letter: M, type: fixed, file_system: NTFS, label: '', size: 1073741824,
                free: 536870912, target: '\??\BackOfficeStorage'}]
    distmgr_log:
      description: Where distmgr.log is, whether it and C(distmgr.lo_) exist, whether tracing is on, and the most
        recent lines that mention decompression (oldest first, C(distmgr.lo_) before C(distmgr.log)).
      type: dict
      sample: {path: 'D:\SMS\Logs\distmgr.log', present: true, rolled_over_path: 'D:\SMS\Logs\distmgr.lo_',
               rolled_over_present: false, logging_enabled: true,
               lines: ['Cannot decompress package D:\SMSPKG\P0100007.PCK to M:\_S M4YZ5.TMP, CTool return code = 4']}
    transaction:
      description: The DLL transaction journal in O(work_dir), if any. An unfinished one (any phase but C(done)
        or C(rolled_back)) makes the host C(unknown) until remediate.yml or rollback.yml recovers it.
      type: dict
      sample: {journal: 'C:\SMSFleet\Q317061\journal.json', present: true, readable: true, phase: done,
               state: replaced, started: '2026-11-21T09:00:00Z', updated: '2026-11-21T09:00:40Z', error: null,
               stopped: [SMS_SITE_COMPONENT_MANAGER], replaced: [Baseutil.dll, Distmgr.dll]}
    staging:
      description:
        - What the staging of M(smsfleet.q317061.q317061_dlls) over WinRM may skip, and where it uploads. C(null)
          over the smb transport, which stages nothing (it writes the checked bytes in the transaction itself).
      type: dict
      contains:
        temp_dir:
          description: The connecting user's temp folder, where the staging uploads.
          type: str
        files:
          description: The SHA-256 of each file in the staged folders (O(work_dir)C(\staged\<platform>)), by full path.
          type: dict
      sample: {temp_dir: 'C:\Users\ADMINI~1\AppData\Local\Temp\',
               files: {'C:\SMSFleet\Q317061\staged\i386\Baseutil.dll': '8d7f...'}}
    errors:
      description: Reads that failed, one sentence each.
      type: list
      elements: str
      sample: []
"""
