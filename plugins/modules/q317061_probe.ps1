#!powershell

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell Ansible.ModuleUtils.AddType

# Read-only: gathers, in one round trip, the raw facts Q317061 classification needs.
# Every read is guarded; a value that cannot be read is reported as $null plus an
# entry in 'errors', never a failure. Interpretation happens on the controller.

$spec = @{
    options = @{
        services = @{ type = 'list'; elements = 'str'; default = @(
                'SMS_SITE_COMPONENT_MANAGER', 'SMS_EXECUTIVE', 'SMS_SQL_MONITOR', 'SMS_SITE_BACKUP',
                'SMS_NT_LOGON_DISCOVERY_AGENT', 'SMS_LICENSE_SERVER', 'Winmgmt', 'EXIFS', 'W3SVC'
            )
        }
        log_tail_bytes = @{ type = 'int'; default = 262144 }
        max_log_lines = @{ type = 'int'; default = 50 }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$errors = [System.Collections.Generic.List[string]]@()

Function Get-RegValue($Path, $Name) {
    # Returns @{ present; value } so an empty string and an absent value stay distinct.
    try {
        $key = Get-Item -LiteralPath $Path -ErrorAction Stop
        if ($key.GetValueNames() -contains $Name) {
            return @{ present = $true; value = $key.GetValue($Name, $null, 'DoNotExpandEnvironmentNames') }
        }
    }
    catch [System.Management.Automation.ItemNotFoundException] { }
    catch { $errors.Add("registry ${Path}\${Name}: $($_.Exception.Message)") }
    return @{ present = $false; value = $null }
}

Add-CSharpType -AnsibleModule $module -References @'
using System;
using System.Runtime.InteropServices;
using System.Text;
namespace SmsFleet.Q317061 {
    public static class DosDevice {
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
        private static extern uint QueryDosDeviceW(string lpDeviceName, StringBuilder lpTargetPath, int ucchMax);
        public static string Target(string letter) {
            StringBuilder sb = new StringBuilder(1024);
            return QueryDosDeviceW(letter, sb, sb.Capacity) == 0 ? null : sb.ToString();
        }
    }
}
'@

$smsId = 'HKLM:\SOFTWARE\Microsoft\SMS\Identification'
$installDir = (Get-RegValue $smsId 'Installation Directory').value
$siteType = (Get-RegValue $smsId 'Site Type').value
$fullVersion = Get-RegValue 'HKLM:\SOFTWARE\Microsoft\SMS\Setup' 'Full Version'
# SMS 2.0 ships Bin\i386 and Bin\Alpha only; anything else is reported as unknown ($null).
$platform = switch ($env:PROCESSOR_ARCHITECTURE) {
    'x86' { 'i386' }
    'ALPHA' { 'Alpha' }
    default { $null }
}

$dlls = [Ordered]@{}
foreach ($name in 'Baseutil.dll', 'Distmgr.dll') {
    $info = [Ordered]@{ path = $null; exists = $false; version = $null; size = $null; sha256 = $null; language = $null }
    if ($installDir -and $platform) {
        $info.path = [System.IO.Path]::Combine($installDir, 'bin', $platform, $name)
        try {
            $file = Get-Item -LiteralPath $info.path -ErrorAction Stop
            $info.exists = $true
            $info.size = $file.Length
            $vi = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($file.FullName)
            $info.version = '{0}.{1:00}.{2}.{3:0000}' -f $vi.FileMajorPart, $vi.FileMinorPart, $vi.FileBuildPart, $vi.FilePrivatePart
            $info.language = $vi.Language
            $info.sha256 = (Get-FileHash -LiteralPath $file.FullName -Algorithm SHA256).Hash.ToLowerInvariant()
        }
        catch [System.Management.Automation.ItemNotFoundException] { }
        catch { $errors.Add("file $($info.path): $($_.Exception.Message)") }
    }
    $dlls[$name] = $info
}

$services = @(foreach ($svcName in $module.Params.services) {
        $svc = Get-Service -Name $svcName -ErrorAction SilentlyContinue
        if ($svc) {
            [Ordered]@{
                name = $svc.Name
                state = $svc.Status.ToString().ToLowerInvariant()
                dependents = @($svc.DependentServices | Where-Object { $_.Status -eq 'Running' } | ForEach-Object { $_.Name })
            }
        }
    })

$exifsKey = 'HKLM:\SYSTEM\CurrentControlSet\Services\EXIFS'
$driveLetter = Get-RegValue "$exifsKey\Parameters" 'DriveLetter'
$exchangeMajor = (Get-RegValue 'HKLM:\SOFTWARE\Microsoft\Exchange\Setup' 'MsiProductMajor').value
$exchangeMinor = (Get-RegValue 'HKLM:\SOFTWARE\Microsoft\Exchange\Setup' 'MsiProductMinor').value

$drives = @(foreach ($drive in [System.IO.DriveInfo]::GetDrives()) {
        $letter = $drive.Name.Substring(0, 1)
        $d = [Ordered]@{
            letter = $letter; type = $drive.DriveType.ToString().ToLowerInvariant(); file_system = $null
            label = $null; size = $null; free = $null; target = [SmsFleet.Q317061.DosDevice]::Target("${letter}:")
        }
        if ($drive.IsReady) {
            $d.file_system = $drive.DriveFormat; $d.label = $drive.VolumeLabel
            $d.size = $drive.TotalSize; $d.free = $drive.AvailableFreeSpace
        }
        $d
    })

$logPath = $null
$logLines = @()
if ($installDir) {
    $logPath = [System.IO.Path]::Combine($installDir, 'Logs', 'distmgr.log')
    try {
        if (Test-Path -LiteralPath $logPath) {
            $stream = [System.IO.File]::Open($logPath, 'Open', 'Read', 'ReadWrite')
            try {
                $start = [Math]::Max(0, $stream.Length - $module.Params.log_tail_bytes)
                $null = $stream.Seek($start, 'Begin')
                $text = (New-Object System.IO.StreamReader($stream)).ReadToEnd()
            }
            finally { $stream.Dispose() }
            $logLines = @($text -split "`r?`n" | Where-Object { $_ -match 'decompress' } |
                    Select-Object -Last $module.Params.max_log_lines)
        }
    }
    catch { $errors.Add("log ${logPath}: $($_.Exception.Message)") }
}

$module.Result.probe = [Ordered]@{
    computer_name = $env:COMPUTERNAME
    sms = [Ordered]@{
        installed = [bool]$installDir
        install_dir = $installDir
        site_code = (Get-RegValue $smsId 'Site Code').value
        site_type = switch ($siteType) {
            1 { 'primary' }
            2 { 'secondary' }
            default { $null }
        }
        parent_site_code = (Get-RegValue $smsId 'Parent Site Code').value
        full_version = $fullVersion.value
        full_version_present = $fullVersion.present
        platform = $platform
        admin_console_running = [bool](Get-Process -Name 'mmc' -ErrorAction SilentlyContinue |
                Where-Object { $_.MainWindowTitle -like '*Systems Management Server*' })
        dlls = $dlls
    }
    services = $services
    exifs = [Ordered]@{
        service_present = Test-Path -LiteralPath $exifsKey
        drive_letter = $driveLetter.value
        drive_letter_present = $driveLetter.present
        exchange_version = if ($null -ne $exchangeMajor) { "$exchangeMajor.$exchangeMinor" } else { $null }
        sharepoint_portal_server = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\SharePoint Portal Server'
    }
    drives = $drives
    distmgr_log = [Ordered]@{ path = $logPath; lines = $logLines }
    errors = @($errors)
}
$module.ExitJson()
