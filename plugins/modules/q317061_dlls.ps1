#!powershell

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Replace (or restore) the SMS DLLs in one transaction: stop SMS services in the given
# order, then WMI and its running dependents; back up; replace; verify; restart exactly
# what ran before, in reverse order. Any failure restores the backups and restarts the
# services before the module fails. A journal written before every step lets the next
# run roll back a transaction whose process was killed (host crash, WinRM restart).

$spec = @{
    options = @{
        state = @{ type = 'str'; choices = 'replaced', 'restored'; default = 'replaced' }
        bin_dir = @{ type = 'path'; required = $true }
        files = @{
            type = 'list'
            elements = 'dict'
            default = @()
            options = @{
                name = @{ type = 'str'; required = $true }
                source = @{ type = 'path'; required = $true }
                version = @{ type = 'str'; required = $true }
            }
        }
        backup_dir = @{ type = 'path'; required = $true }
        journal = @{ type = 'path'; required = $true }
        services = @{ type = 'list'; elements = 'str'; required = $true }
        wmi_service = @{ type = 'str'; default = 'Winmgmt' }
        admin_console = @{ type = 'str'; choices = 'refuse', 'close'; default = 'refuse' }
        stop_timeout = @{ type = 'int'; default = 120 }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$binDir = $module.Params.bin_dir
$backupDir = $module.Params.backup_dir
$journalPath = $module.Params.journal
$timeout = [TimeSpan]::FromSeconds($module.Params.stop_timeout)

Function Get-FileVersionText($Path) {
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
    $info = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($Path)
    '{0}.{1:00}.{2}.{3:0000}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart, $info.FilePrivatePart
}

Function Write-Journal($Journal) {
    # Written to a temporary file and moved, so a crash never leaves half a journal.
    $tmp = "$journalPath.tmp"
    $Journal.updated = [DateTime]::UtcNow.ToString('o')
    ConvertTo-Json -InputObject $Journal -Depth 5 | Set-Content -LiteralPath $tmp -Encoding UTF8
    Move-Item -LiteralPath $tmp -Destination $journalPath -Force
}

Function Read-Json($Path) {
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
    Get-Content -LiteralPath $Path -Raw | ConvertFrom-Json
}

Function Stop-Recorded($Name, $Journal) {
    $svc = Get-Service -Name $Name
    $Journal.stopped += $svc.Name
    Write-Journal $Journal
    $svc.Stop()
    try {
        $svc.WaitForStatus('Stopped', $timeout)
    }
    catch {
        throw "Service '$Name' did not stop within $($module.Params.stop_timeout) seconds"
    }
}

Function Restore-Host($Journal) {
    # Undo whatever the journal says happened; every step is attempted even if one fails.
    $problems = @()
    foreach ($name in @($Journal.replaced)) {
        try { Copy-Item -LiteralPath (Join-Path $Journal.undo_dir $name) -Destination (Join-Path $Journal.bin_dir $name) -Force }
        catch { $problems += "restore ${name}: $($_.Exception.Message)" }
    }
    $stopped = @($Journal.stopped)
    [array]::Reverse($stopped)
    foreach ($name in $stopped) {
        try { Start-Service -Name $name -ErrorAction Stop }
        catch { $problems += "start ${name}: $($_.Exception.Message)" }
    }
    $problems
}

$module.Result.journal = @{ recovered = $false; phase = $null }
$previous = Read-Json $journalPath
if ($previous -and $previous.phase -notin @('done', 'rolled_back')) {
    $module.Result.journal = @{ recovered = $true; phase = $previous.phase }
    if (-not $module.CheckMode) {
        $problems = Restore-Host -Journal $previous
        $previous.phase = 'rolled_back'
        $previous.error = "interrupted during phase '$($module.Result.journal.phase)'; rolled back by the next run"
        Write-Journal $previous
        if ($problems) {
            $module.FailJson("an interrupted transaction could not be rolled back: $($problems -join '; ')")
        }
        $module.Warn("rolled back a transaction interrupted during phase '$($module.Result.journal.phase)'")
    }
}

# What the files should become: the staged hotfix files, or the backed-up originals.
$wanted = @()
if ($module.Params.state -eq 'replaced') {
    $wanted = @($module.Params.files | ForEach-Object { @{ name = $_.name; source = $_.source; version = $_.version } })
}
else {
    $manifest = Read-Json (Join-Path $backupDir 'manifest.json')
    if ($manifest) {
        $wanted = @($manifest.files | ForEach-Object {
                @{ name = $_.name; source = (Join-Path $backupDir $_.name); version = $_.version }
            })
    }
}
$before = @{}
$after = @{}
foreach ($file in $wanted) {
    $before[$file.name] = Get-FileVersionText (Join-Path $binDir $file.name)
    $after[$file.name] = $file.version
}
$module.Result.before = $before
$module.Result.after = $after
$module.Result.stopped = @()
$module.Result.restarted = @()
$pending = @($wanted | Where-Object { $before[$_.name] -ne $_.version })
if ($pending.Count -eq 0) {
    $module.ExitJson()
}

foreach ($file in $pending) {
    $staged = Get-FileVersionText $file.source
    if ($null -eq $staged -and -not $module.CheckMode) {
        $module.FailJson("source file $($file.source) for $($file.name) does not exist; nothing was changed")
    }
    if ($null -ne $staged -and $staged -ne $file.version) {
        $module.FailJson("source file $($file.source) is version $staged, expected $($file.version); nothing was changed")
    }
}

$console = @(Get-CimInstance -ClassName Win32_Process -Filter "Name = 'mmc.exe'" |
        Where-Object { $_.CommandLine -like '*sms.msc*' })
if ($console.Count -gt 0 -and $module.Params.admin_console -eq 'refuse') {
    $module.FailJson("the SMS Administrator console is running (PID $($console.ProcessId -join ', ')); " +
        "quit it or set admin_console=close (KB Q317061 step 4); nothing was changed")
}

$running = @($module.Params.services | Where-Object {
        $svc = Get-Service -Name $_ -ErrorAction SilentlyContinue
        $svc -and $svc.Status -eq 'Running'
    })
$wmi = Get-Service -Name $module.Params.wmi_service -ErrorAction SilentlyContinue
$stopOrder = @($running)
if ($wmi -and $wmi.Status -eq 'Running') {
    $stopOrder += @($wmi.DependentServices | Where-Object { $_.Status -eq 'Running' -and $stopOrder -notcontains $_.Name } |
            ForEach-Object { $_.Name })
    $stopOrder += $wmi.Name
}
$module.Diff.before = $before
$module.Diff.after = $after
$module.Result.changed = $true
$module.Result.plan = @{ stop = $stopOrder; close_console = ($console.Count -gt 0); files = @($pending.name) }
if ($module.CheckMode) {
    $module.ExitJson()
}

foreach ($process in $console) { Stop-Process -Id $process.ProcessId -Force }
# undo_dir holds this transaction's "before" copies: the backup itself when replacing,
# a separate folder when restoring (so a failed restore can put the hotfix back).
$undoDir = if ($module.Params.state -eq 'replaced') { $backupDir } else { Join-Path $backupDir 'before-restore' }
$journal = @{
    phase = 'stopping'; state = $module.Params.state; bin_dir = $binDir; undo_dir = $undoDir
    stopped = @(); replaced = @(); before = $before; after = $after; error = $null
    started = [DateTime]::UtcNow.ToString('o')
}
Write-Journal $journal
try {
    foreach ($name in $stopOrder) { Stop-Recorded -Name $name -Journal $journal }
    $journal.phase = 'backing_up'
    Write-Journal $journal
    New-Item -Path $undoDir -ItemType Directory -Force | Out-Null
    $entries = foreach ($file in $pending) {
        Copy-Item -LiteralPath (Join-Path $binDir $file.name) -Destination (Join-Path $undoDir $file.name) -Force
        @{ name = $file.name; version = $before[$file.name] }
    }
    if ($module.Params.state -eq 'replaced') {
        ConvertTo-Json -InputObject @{ files = @($entries); taken = $journal.started } -Depth 3 |
            Set-Content -LiteralPath (Join-Path $backupDir 'manifest.json') -Encoding UTF8
    }
    $journal.phase = 'replacing'
    Write-Journal $journal
    foreach ($file in $pending) {
        $journal.replaced += $file.name
        Write-Journal $journal
        Copy-Item -LiteralPath $file.source -Destination (Join-Path $binDir $file.name) -Force
    }
    $journal.phase = 'verifying'
    Write-Journal $journal
    foreach ($file in $pending) {
        $now = Get-FileVersionText (Join-Path $binDir $file.name)
        if ($now -ne $file.version) { throw "$($file.name) is version $now after the copy, expected $($file.version)" }
    }
    $journal.phase = 'restarting'
    Write-Journal $journal
    $reverse = @($journal.stopped)
    [array]::Reverse($reverse)
    foreach ($name in $reverse) { Start-Service -Name $name -ErrorAction Stop }
    $journal.phase = 'done'
    Write-Journal $journal
    $module.Result.stopped = $journal.stopped
    $module.Result.restarted = $reverse
}
catch {
    $reason = $_.Exception.Message.TrimEnd('.')
    $problems = Restore-Host -Journal $journal
    $journal.phase = 'rolled_back'
    $journal.error = $reason
    Write-Journal $journal
    $module.Result.changed = $false
    $module.Result.after = $before
    $tail = if ($problems) { " Rollback problems: $($problems -join '; ')" } else { ' The original DLLs are in place and the services were restarted.' }
    $module.FailJson("$reason.$tail")
}

$module.ExitJson()
