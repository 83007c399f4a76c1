#!powershell

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# The KB Q317061 workaround's registry values, in one module execution: EXIFS
# Parameters\DriveLetter, and the record of its original under the collection's fixed key (never a
# user setting, so no variable can point the rollback at a key it would delete values from).
# state=hidden records the original once, then blanks DriveLetter; state=restored puts the original
# back (or removes DriveLetter where it was absent) and deletes only the two values it recorded
# (and the key when nothing else is in it). plugin_utils/exifs.py states the same rules for the
# smb transport. A restart is a separate step (q317061_restart).

$spec = @{
    options = @{
        state = @{ type = 'str'; choices = 'hidden', 'restored'; default = 'hidden' }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$parameters = 'SYSTEM\CurrentControlSet\Services\EXIFS\Parameters'
$recordKey = 'SOFTWARE\smsfleet\Q317061'
$module.Result.changed = $false

Function Get-Value($SubKey, $Name) {
    # @{ present; value } of a string value; a missing key reads as absent.
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($SubKey)
    if ($null -eq $key) { return @{ present = $false; value = $null } }
    try {
        if ($key.GetValueNames() -contains $Name) { return @{ present = $true; value = $key.GetValue($Name, $null, 'DoNotExpandEnvironmentNames') } }
        @{ present = $false; value = $null }
    }
    finally { $key.Dispose() }
}

Function Set-Value($SubKey, $Name, $Value) {
    $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($SubKey)
    try { $key.SetValue($Name, [string]$Value, [Microsoft.Win32.RegistryValueKind]::String) } finally { $key.Dispose() }
}

Function Remove-Value($SubKey, $Name) {
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($SubKey, $true)
    if ($null -eq $key) { return }
    try { $key.DeleteValue($Name, $false) } finally { $key.Dispose() }
}

if ($null -eq [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SYSTEM\CurrentControlSet\Services\EXIFS')) {
    $module.FailJson('EXIFS is not installed on this host (no HKLM\SYSTEM\CurrentControlSet\Services\EXIFS): there is no IFS drive to hide or restore; nothing was changed')
}
$letter = Get-Value $parameters 'DriveLetter'
$original = Get-Value $recordKey 'OriginalDriveLetter'
$originalState = Get-Value $recordKey 'OriginalDriveLetterState'
# A REG_MULTI_SZ, a number or a long text is no drive letter: recording or restoring it would lie.
foreach ($read in @(@($letter, "$parameters\DriveLetter"), @($original, "$recordKey\OriginalDriveLetter"))) {
    if ($read[0].present -and -not ($read[0].value -is [string] -and $read[0].value.Length -le 3)) {
        $module.FailJson("HKLM\$($read[1]) is not a drive letter; nothing was changed: look at the host by hand")
    }
}
if ($originalState.present) { $originalState.value = [string]$originalState.value }
$module.Result.before = @{ drive_letter = $letter.value; drive_letter_present = $letter.present }
$module.Result.record = @{ present = $originalState.present; original = $original.value; original_state = $originalState.value }
$after = @{ drive_letter = $letter.value; drive_letter_present = $letter.present }

if ($module.Params.state -eq 'hidden') {
    $record = -not $originalState.present
    $blank = -not ($letter.present -and $letter.value -eq '')
    if (-not $module.CheckMode) {
        if ($record) {  # the original first: the rollback depends on it
            Set-Value $recordKey 'OriginalDriveLetter' $(if ($letter.present) { $letter.value } else { '' })
            Set-Value $recordKey 'OriginalDriveLetterState' $(if ($letter.present) { 'present' } else { 'absent' })
        }
        if ($blank) { Set-Value $parameters 'DriveLetter' '' }
    }
    $module.Result.recorded = $record
    $module.Result.changed = $record -or $blank
    $after = @{ drive_letter = ''; drive_letter_present = $true }
}
else {
    $module.Result.restored = $null
    $module.Result.drive_letter_changed = $false
    if ($originalState.present -and $originalState.value -notin 'present', 'absent') {
        $module.FailJson("the record HKLM\$recordKey\OriginalDriveLetterState is '$($originalState.value)', not present or absent; nothing was changed")
    }
    if ($originalState.present) {
        if ($originalState.value -eq 'present') {
            $value = [string]$original.value
            $change = -not ($letter.present -and $letter.value -eq $value)
            if ($change -and -not $module.CheckMode) { Set-Value $parameters 'DriveLetter' $value }
            $after = @{ drive_letter = $value; drive_letter_present = $true }
            $module.Result.restored = $value
        }
        else {
            $change = $letter.present
            if ($change -and -not $module.CheckMode) { Remove-Value $parameters 'DriveLetter' }
            $after = @{ drive_letter = $null; drive_letter_present = $false }
        }
        if (-not $module.CheckMode) {
            foreach ($name in 'OriginalDriveLetter', 'OriginalDriveLetterState') { Remove-Value $recordKey $name }
            $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($recordKey)
            $empty = $key -and $key.ValueCount -eq 0 -and $key.SubKeyCount -eq 0
            if ($key) { $key.Dispose() }
            if ($empty) { [Microsoft.Win32.Registry]::LocalMachine.DeleteSubKey($recordKey, $false) }
        }
        $module.Result.drive_letter_changed = $change
        $module.Result.changed = $true  # the record is forgotten even when the value was already back
    }
}
$module.Result.after = $after
if ($module.Result.changed) {
    $module.Diff.before = $module.Result.before
    $module.Diff.after = $after
}
$module.ExitJson()
