#!powershell

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell Ansible.ModuleUtils.AddType

# Read-only, one round trip. Every read is guarded (the wrapper sets ErrorActionPreference Stop): an
# unreadable value is $null plus an entry in 'errors'. The controller interprets (classification.py).
# Keep the exec payload under one WinRM Send (ansible-core's 200,000-byte stdin chunk): test_audit.py.

$spec = @{
    options = @{
        services = @{ type = 'list'; elements = 'str'; default = @('SMS_SITE_COMPONENT_MANAGER', 'SMS_EXECUTIVE',
            'SMS_SQL_MONITOR', 'SMS_SITE_BACKUP', 'SMS_NT_LOGON_DISCOVERY_AGENT', 'SMS_LICENSE_SERVER', 'Winmgmt',
            'EXIFS', 'W3SVC', 'MSExchangeIS') }
        log_tail_bytes = @{ type = 'int'; default = 262144 }
        max_log_lines = @{ type = 'int'; default = 50 }
        work_dir = @{ type = 'path'; default = 'C:\SMSFleet\Q317061' }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$errors = [System.Collections.Generic.List[string]]@()

Function Open-MachineKey($SubKey, [switch]$Software32) {
    # HKLM\<SubKey> or $null. SMS, Exchange and SharePoint are 32-bit: on 64-bit Windows their SOFTWARE
    # keys are in the 32-bit view (WOW6432Node), so -Software32 reads that view first.
    $views = if ($Software32) { 'Registry32', 'Registry64' } else { , 'Default' }
    foreach ($view in $views) {
        $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey('LocalMachine', $view)
        $key = $base.OpenSubKey($SubKey)
        if ($key) { return $key }
    }
    $null
}

Function Get-RegValue($SubKey, $Name, [switch]$Software32) {
    # @{ present; value }: an empty string and an absent value stay distinct.
    try {
        $key = Open-MachineKey $SubKey -Software32:$Software32
        if ($key -and $key.GetValueNames() -contains $Name) {
            $v = $key.GetValue($Name, $null, 'DoNotExpandEnvironmentNames')
            if ("$v".Length -gt 4096) { throw "$("$v".Length) characters, more than any value read here holds" }
            return @{ present = $true; value = $v }
        }
    }
    catch { $errors.Add("registry HKLM\${SubKey}\${Name}: $($_.Exception.Message)") }
    return @{ present = $false; value = $null }
}

Function Get-Sha256($Path) { (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant() }

Function Get-Guarded($What, [ScriptBlock]$Read) {
    # A failed read adds an error and emits nothing (a $null would become a list item).
    try { & $Read }
    catch { $errors.Add("${What}: $($_.Exception.Message)") }
}

# QueryDosDevice (the IFS drive's target) and the numeric language ID; if the compile fails both are $null.
$native = $false
try {
    Add-CSharpType -AnsibleModule $module -References @'
using System;
using System.Runtime.InteropServices;
using System.Text;
namespace SmsFleet.Q317061 {
public static class Native {
    [DllImport("kernel32.dll", CharSet = CharSet.Unicode)]
    private static extern uint QueryDosDeviceW(string device, StringBuilder target, int max);
    [DllImport("version.dll", CharSet = CharSet.Unicode)]
    private static extern int GetFileVersionInfoSizeW(string file, out int handle);
    [DllImport("version.dll", CharSet = CharSet.Unicode)]
    private static extern bool GetFileVersionInfoW(string file, int handle, int size, byte[] data);
    [DllImport("version.dll", CharSet = CharSet.Unicode)]
    private static extern bool VerQueryValueW(IntPtr block, string subBlock, out IntPtr value, out int length);
    public static string Target(string letter) {
        StringBuilder sb = new StringBuilder(1024);
        return QueryDosDeviceW(letter, sb, sb.Capacity) == 0 ? null : sb.ToString();
    }
    public static int LanguageId(string path) {
        int handle;
        int size = GetFileVersionInfoSizeW(path, out handle);
        if (size <= 0) { return -1; }
        byte[] data = new byte[size];
        // VerQueryValue points into the block: pinned until read.
        GCHandle pin = GCHandle.Alloc(data, GCHandleType.Pinned);
        try {
            IntPtr value;
            int length;
            if (!GetFileVersionInfoW(path, 0, size, data) ||
                !VerQueryValueW(pin.AddrOfPinnedObject(), @"\VarFileInfo\Translation", out value, out length) ||
                length < 4) { return -1; }
            return Marshal.ReadInt16(value) & 0xFFFF;
        }
        finally { pin.Free(); }
    }
}
}
'@
    $native = $true
}
catch { $errors.Add("native helper: $($_.Exception.Message)") }

$smsId = 'SOFTWARE\Microsoft\SMS\Identification'
$installRaw = (Get-RegValue $smsId 'Installation Directory' -Software32).value
$installDir = if ($installRaw) { [Environment]::ExpandEnvironmentVariables([string]$installRaw) } else { $null }
$siteType = (Get-RegValue $smsId 'Site Type' -Software32).value
$fullVersion = Get-RegValue 'SOFTWARE\Microsoft\SMS\Setup' 'Full Version' -Software32
# The platform is SMS's own (bin\i386 or bin\alpha), not the OS's (x86 SMS on x64 Windows is i386).
$platform = $null
if ($installDir) {
    foreach ($candidate in 'i386', 'Alpha') {
        if (Get-Guarded "folder $installDir\bin\$candidate" { Test-Path -LiteralPath ([IO.Path]::Combine($installDir, 'bin', $candidate)) -PathType Container }) {
            $platform = $candidate
            break
        }
    }
}

$dlls = [Ordered]@{}
foreach ($name in 'Baseutil.dll', 'Distmgr.dll') {
    $info = [Ordered]@{ path = $null; exists = $false; version = $null; size = $null; sha256 = $null
        language_id = $null; language = $null; modified = $null
    }
    $dlls[$name] = $info
    if (-not ($installDir -and $platform)) { continue }
    $info.path = [IO.Path]::Combine($installDir, 'bin', $platform, $name)
    try {
        if (-not (Test-Path -LiteralPath $info.path -PathType Leaf)) { continue }
        $file = Get-Item -LiteralPath $info.path
        $info.exists = $true
        $info.size = $file.Length
        $info.modified = $file.LastWriteTimeUtc.ToString('o')
        # The hash first: it throws on an unreadable file where FileVersionInfo answers zeros. Nothing
        # else is reported from the file until every read succeeded.
        $sha256 = Get-Sha256 $file.FullName
        $vi = [Diagnostics.FileVersionInfo]::GetVersionInfo($file.FullName)
        $version = $null
        if (-not [string]::IsNullOrEmpty($vi.FileVersion) -and
            ($vi.FileMajorPart + $vi.FileMinorPart + $vi.FileBuildPart + $vi.FilePrivatePart) -gt 0) {
            $version = '{0}.{1:00}.{2}.{3:0000}' -f $vi.FileMajorPart, $vi.FileMinorPart, $vi.FileBuildPart, $vi.FilePrivatePart
        }
        $lang = if ($native) { [SmsFleet.Q317061.Native]::LanguageId($file.FullName) } else { -1 }
        $info.sha256 = $sha256
        $info.version = $version
        $info.language = if ($version) { $vi.Language } else { $null }
        $info.language_id = if ($lang -ge 0) { $lang } else { $null }
    }
    catch { $errors.Add("file $($info.path): $($_.Exception.Message)") }
}

$services = @(foreach ($svcName in $module.Params.services) {
    $svc = Get-Service -Name $svcName -ErrorAction SilentlyContinue
    # .NET's state names: running, stopped, stoppending, startpending, paused, ...
    if ($svc) {
        Get-Guarded "service $svcName" { [Ordered]@{ name = $svc.Name; state = $svc.Status.ToString().ToLowerInvariant()
            dependents = @($svc.DependentServices | Where-Object { $_.Status -ne 'Stopped' } | ForEach-Object { $_.Name }) } }
    }
})

# The console is mmc.exe with sms.msc on its command line (MainWindowTitle is empty over WinRM).
$console = Get-Guarded 'SMS Administrator console (Win32_Process)' {
    [bool]@(Get-CimInstance -ClassName Win32_Process -Filter "Name = 'mmc.exe'" |
            Where-Object { $null -eq $_.CommandLine -or $_.CommandLine -like '*sms.msc*' }).Count
}

$exifsKey = 'SYSTEM\CurrentControlSet\Services\EXIFS'
$driveLetter = Get-RegValue "$exifsKey\Parameters" 'DriveLetter'
# q317061_exifs' record of DriveLetter before it blanked it: the letter mounted until the next boot.
$recordState = Get-RegValue 'SOFTWARE\smsfleet\Q317061' 'OriginalDriveLetterState'
$recordLetter = Get-RegValue 'SOFTWARE\smsfleet\Q317061' 'OriginalDriveLetter'
$exchange = 'SOFTWARE\Microsoft\Exchange\Setup'
$exchangeMajor = (Get-RegValue $exchange 'MsiProductMajor' -Software32).value
$exchangeMinor = (Get-RegValue $exchange 'MsiProductMinor' -Software32).value

# EXIFS throws while the store mounts: each property is read on its own. TotalFreeSpace is what
# Distribution Manager sees (AvailableFreeSpace is the user's quota).
$driveProperties = [Ordered]@{ file_system = 'DriveFormat'; label = 'VolumeLabel'; size = 'TotalSize'; free = 'TotalFreeSpace' }
$drives = @(foreach ($drive in [IO.DriveInfo]::GetDrives()) {
    $letter = $drive.Name.Substring(0, 1)
    $d = [Ordered]@{ letter = $letter; type = $drive.DriveType.ToString().ToLowerInvariant(); file_system = $null
        label = $null; size = $null; free = $null; target = $null
    }
    if ($native) { $d.target = Get-Guarded "drive ${letter}: target" { [SmsFleet.Q317061.Native]::Target("${letter}:") } }
    if (Get-Guarded "drive ${letter}: ready" { $drive.IsReady }) {
        foreach ($p in $driveProperties.GetEnumerator()) { $d[$p.Key] = Get-Guarded "drive ${letter}: $($p.Value)" { $drive.($p.Value) } }
    }
    $d
})

Function Read-LogTail($Path) {
    # The last log_tail_bytes of a log; a line cut by the offset is dropped.
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
    $stream = [IO.File]::Open($Path, 'Open', 'Read', 'ReadWrite')
    try {
        $start = [Math]::Max(0, $stream.Length - $module.Params.log_tail_bytes)
        $null = $stream.Seek($start, 'Begin')
        # SMS 2.0 writes its logs in the system's ANSI code page.
        $text = (New-Object IO.StreamReader($stream, [Text.Encoding]::Default)).ReadToEnd()
    }
    finally { $stream.Dispose() }
    $lines = @($text -split "`r?`n")
    if ($start -gt 0) { $lines = @($lines | Select-Object -Skip 1) }
    , @($lines | Where-Object { $_ -match 'decompress' })
}

$tracing = 'SOFTWARE\Microsoft\SMS\Tracing\SMS_DISTRIBUTION_MANAGER'
$traceEnabled = Get-RegValue $tracing 'Enabled' -Software32
$traceFile = (Get-RegValue $tracing 'TraceFilename' -Software32).value
$log = [Ordered]@{ path = $null; present = $false; rolled_over_path = $null; rolled_over_present = $false
    logging_enabled = $null; lines = @()
}
if ($traceEnabled.present) {
    $enabled = 0
    if ([int]::TryParse([string]$traceEnabled.value, [ref]$enabled)) { $log.logging_enabled = $enabled -ne 0 }
    else { $errors.Add("registry HKLM\$tracing\Enabled: '$($traceEnabled.value)' is not a number") }
}
if ($installDir) {
    $log.path = if ($traceFile) { [Environment]::ExpandEnvironmentVariables([string]$traceFile) } else { [IO.Path]::Combine($installDir, 'Logs', 'distmgr.log') }
    $log.rolled_over_path = [IO.Path]::ChangeExtension($log.path, '.lo_')
    $found = @()
    foreach ($part in @(@('rolled_over_present', $log.rolled_over_path), @('present', $log.path))) {
        try {
            $lines = Read-LogTail $part[1]
            if ($null -ne $lines) { $log[$part[0]] = $true; $found += $lines }
        }
        catch { $errors.Add("log $($part[1]): $($_.Exception.Message)") }
    }
    $log.lines = @($found | Select-Object -Last $module.Params.max_log_lines)
}

# q317061_dlls' journal: an unfinished one means SMS may be stopped or half-replaced.
$journalPath = Join-Path $module.Params.work_dir 'journal.json'
$transaction = [Ordered]@{ journal = $journalPath; present = $false; readable = $null; phase = $null; state = $null
    started = $null; updated = $null; error = $null; stopped = @(); replaced = @()
}
foreach ($candidate in $journalPath, "$journalPath.tmp") {
    if (-not (Get-Guarded "journal $candidate" { Test-Path -LiteralPath $candidate -PathType Leaf })) { continue }
    $transaction.present = $true
    try {
        # UTF-8, as q317061_dlls writes it (Get-Content would use the ANSI code page).
        $journal = ConvertFrom-Json -InputObject ([IO.File]::ReadAllText($candidate))
        if ($journal -isnot [Management.Automation.PSCustomObject]) { throw 'it is not a JSON object' }
        foreach ($field in 'phase', 'state', 'started', 'updated', 'error', 'stopped', 'replaced') { $transaction[$field] = $journal.$field }
        $transaction.readable = $true
        break
    }
    catch { $transaction.readable = $false; $transaction.error = "unreadable: $($_.Exception.Message)" }
}

# For the dlls action's staging (WinRM): the SHA-256 of each staged file, and the upload folder.
$stagedRoot = Join-Path $module.Params.work_dir 'staged'
$staging = [Ordered]@{ temp_dir = [IO.Path]::GetTempPath(); files = [Ordered]@{} }
Get-Guarded "staged files $stagedRoot" {
    if (Test-Path -LiteralPath $stagedRoot -PathType Container) {
        foreach ($folder in Get-ChildItem -LiteralPath $stagedRoot -Directory) {
            foreach ($file in Get-ChildItem -LiteralPath $folder.FullName -File) {
                $staging.files[$file.FullName] = Get-Sha256 $file.FullName
            }
        }
    }
}

$module.Result.probe = [Ordered]@{
    schema = 2
    computer_name = $env:COMPUTERNAME
    os_version = [Environment]::OSVersion.Version.ToString()  # powershell.exe declares every Windows it knows
    boot_time = Get-Guarded 'boot time (Win32_OperatingSystem)' {
        (Get-CimInstance -ClassName Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('o')
    }
    time_bias_minutes = (Get-RegValue 'SYSTEM\CurrentControlSet\Control\TimeZoneInformation' 'ActiveTimeBias').value
    sms = [Ordered]@{
        installed = [bool]$installDir
        install_dir = $installDir
        site_code = (Get-RegValue $smsId 'Site Code' -Software32).value
        site_type = switch ($siteType) {
            1 { 'primary' }
            2 { 'secondary' }
            default { $null }
        }
        parent_site_code = (Get-RegValue $smsId 'Parent Site Code' -Software32).value
        full_version = $fullVersion.value
        full_version_present = $fullVersion.present
        platform = $platform
        admin_console_running = $console
        dlls = $dlls
    }
    services = $services
    exifs = [Ordered]@{
        service_present = $null -ne (Open-MachineKey $exifsKey)
        drive_letter = $driveLetter.value
        drive_letter_present = $driveLetter.present
        # The key's LastWriteTime matters only over smb; here the IFS drive's DOS device target says whether it is mounted.
        parameters_written = $null
        original_recorded = $recordState.present
        original_drive_letter = if ($recordState.value -eq 'present') { $recordLetter.value } else { $null }
        exchange_version = if ($null -ne $exchangeMajor) { "$exchangeMajor.$exchangeMinor" } else { $null }
        sharepoint_portal_server = $null -ne (Open-MachineKey 'SOFTWARE\Microsoft\SharePoint Portal Server' -Software32)
    }
    drives = $drives
    distmgr_log = $log
    transaction = $transaction
    staging = $staging
    errors = @($errors)
}
$module.ExitJson()
