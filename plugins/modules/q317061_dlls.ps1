#!powershell

# Copyright: (c) 2026, smsfleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Replace (or restore) the SMS DLLs in one transaction, by the contract in
# plugins/plugin_utils/transaction.py (docs/remediation.md): one transaction per host (a lock
# file held open), a journal written before every step (temp file, then moved), stop Site
# Component Manager first and each service's running dependents before it, then WMI; back up;
# replace; verify version and SHA-256; restart exactly what ran, in reverse. A failure before the
# restart rolls back; a failure while restarting rolls forward. An unfinished journal left by a
# killed process (host crash, dropped WinRM shell) is recovered first, by the same rules.
# The module wrapper sets $ErrorActionPreference = 'Stop': every cmdlet error throws.

$spec = @{
    options = @{
        state = @{ type = 'str'; choices = 'replaced', 'restored', 'recovered'; default = 'replaced' }
        bin_dir = @{ type = 'path' }
        files = @{
            type = 'list'
            elements = 'dict'
            options = @{
                name = @{ type = 'str'; required = $true }
                source = @{ type = 'path'; required = $true }
                version = @{ type = 'str'; required = $true }
                sha256 = @{ type = 'str'; required = $true }
                # The controller's copy the action plugin stages from (it never reaches the module).
                local = @{ type = 'path' }
                # The action's gzip upload of it (the user's temp folder), expanded into source.
                upload = @{ type = 'path' }
            }
        }
        backup_dir = @{ type = 'path' }
        journal = @{ type = 'path'; required = $true }
        services = @{ type = 'list'; elements = 'str'; default = @() }
        wmi_service = @{ type = 'str'; default = 'Winmgmt' }
        admin_console = @{ type = 'str'; choices = 'refuse', 'close'; default = 'refuse' }
        stop_timeout = @{ type = 'int'; default = 120 }
        transaction_id = @{ type = 'str' }
        expect = @{ type = 'dict' }
    }
    required_if = @(
        , @('state', 'replaced', @('bin_dir', 'backup_dir', 'files'))
        , @('state', 'restored', @('bin_dir', 'backup_dir'))
    )
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$journalPath = $module.Params.journal
$workDir = Split-Path -Path $journalPath -Parent
$timeout = [TimeSpan]::FromSeconds($module.Params.stop_timeout)
$module.Result.changed = $false
$module.Result.recovered = $null
$module.Result.stopped = @()
$module.Result.restarted = @()

Function Get-FileFacts($Path) {
    # @{ version; sha256 } of a file, or $null when it does not exist. The hash is read first: it
    # throws on a file nobody may read, where FileVersionInfo silently answers all zeros. A file
    # without a version resource has version $null, which Compare-Version refuses.
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
    $sha256 = (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
    $info = [Diagnostics.FileVersionInfo]::GetVersionInfo($Path)
    $version = $null
    if (-not [string]::IsNullOrEmpty($info.FileVersion) -and
        ($info.FileMajorPart + $info.FileMinorPart + $info.FileBuildPart + $info.FilePrivatePart) -gt 0) {
        $version = '{0}.{1:00}.{2}.{3:0000}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart, $info.FilePrivatePart
    }
    @{ version = $version; sha256 = $sha256 }
}

Function Expand-Upload($Path, $Destination) {
    # A gzip file into $Destination (replaced whole).
    $in = [IO.File]::OpenRead($Path)
    try {
        $gzip = New-Object IO.Compression.GZipStream($in, [IO.Compression.CompressionMode]::Decompress)
        $out = [IO.File]::Create($Destination)
        try { $gzip.CopyTo($out) }
        finally { $out.Dispose() }
    }
    finally { $in.Dispose() }
}

Function Test-SameFile($Facts, $Version, $Sha256) {
    # transaction._same: equal versions, and equal bytes where both hashes are known.
    $Facts -and (Compare-Version $Facts.version $Version) -eq 0 -and
    (-not $Facts.sha256 -or -not $Sha256 -or $Facts.sha256 -eq $Sha256)
}

Function Test-PlainName($Name) {
    # transaction.is_plain_name: a journal or manifest never steers a copy out of its folder.
    $Name -is [string] -and $Name -notin '', '.', '..' -and [IO.Path]::GetFileName($Name) -eq $Name -and
    $Name -notmatch '[:/\\]'
}

Function Compare-Version($Left, $Right) {
    # Numeric: 2.0.1493.3240 equals 2.00.1493.3240. $null when either is unreadable.
    if ($null -eq $Left -or $null -eq $Right) { return $null }
    try { ([Version]$Left).CompareTo([Version]$Right) } catch { $null }
}

Function Write-JsonFile($Path, $Value) {
    # Durable and atomic: written through to disk under a temporary name, then moved over the old file.
    $tmp = "$Path.tmp"
    $bytes = [Text.Encoding]::UTF8.GetBytes((ConvertTo-Json -InputObject $Value -Depth 6))
    $stream = New-Object IO.FileStream($tmp, [IO.FileMode]::Create, [IO.FileAccess]::Write, [IO.FileShare]::None,
        4096, [IO.FileOptions]::WriteThrough)
    try { $stream.Write($bytes, 0, $bytes.Length); $stream.Flush($true) }
    catch {
        # A half-written copy must not become what a reader falls back to (a full disk, for one).
        $stream.Dispose()
        Remove-Item -LiteralPath $tmp -Force -ErrorAction SilentlyContinue
        throw
    }
    finally { $stream.Dispose() }
    # PowerShell turns $null into "" for a string parameter, which File.Replace rejects: NullString
    # passes a real null (no backup file). A reader (an audit's probe, an antivirus scan) can hold
    # the file for a moment without delete sharing: retry a few times before giving up.
    $noBackup = [System.Management.Automation.Language.NullString]::Value
    for ($attempt = 1; ; $attempt++) {
        try {
            if ([IO.File]::Exists($Path)) { [IO.File]::Replace($tmp, $Path, $noBackup) } else { [IO.File]::Move($tmp, $Path) }
            return
        }
        catch [IO.IOException], [UnauthorizedAccessException] {
            if ($attempt -ge 10) { throw }
            Start-Sleep -Milliseconds 200
        }
    }
}

Function Write-Journal($Journal) {
    $Journal.updated = [DateTime]::UtcNow.ToString('o')
    Write-JsonFile -Path $journalPath -Value $Journal
}

Function Read-Journal {
    # journal.json, or its temporary copy when journal.json is missing or unreadable; $null if neither exists.
    $problems = @()
    foreach ($candidate in $journalPath, "$journalPath.tmp") {
        if (-not (Test-Path -LiteralPath $candidate -PathType Leaf)) { continue }
        # ReadAllText: the journal is UTF-8 (Get-Content would read it in the ANSI code page).
        try {
            $value = ConvertFrom-Json -InputObject ([IO.File]::ReadAllText($candidate))
            if ($value -isnot [Management.Automation.PSCustomObject]) { throw 'it is not a JSON object' }
            return $value
        }
        catch { $problems += "${candidate}: $($_.Exception.Message)" }
    }
    if ($problems) {
        $module.FailJson("the transaction journal cannot be read ($($problems -join '; ')); nothing was changed: " +
            "check the host by hand, then move the journal aside")
    }
    $null
}

Function Test-Journal($Journal) {
    # transaction.check_journal: refuse a journal a recovery could not follow safely.
    $phases = 'stopping', 'backing_up', 'replacing', 'verifying', 'restarting', 'done', 'rolling_back', 'rolled_back', 'rollback_failed'
    foreach ($field in 'phase', 'bin_dir', 'undo_dir', 'stopped', 'replaced') {
        if ($null -eq $Journal.PSObject.Properties[$field]) {
            $module.FailJson("the transaction journal $journalPath lacks '$field'; nothing was changed: check the host by hand")
        }
    }
    if ($Journal.phase -notin $phases) {
        $module.FailJson("the transaction journal $journalPath has an unknown phase '$($Journal.phase)'; nothing was changed")
    }
    # ConvertFrom-Json gives object[] for a JSON list; a string or null would be unrolled into a wrong list.
    if ($Journal.stopped -isnot [array] -or $Journal.replaced -isnot [array] -or
        @($Journal.stopped | Where-Object { $_ -isnot [string] -or -not $_ }).Count -or
        @($Journal.replaced | Where-Object { -not (Test-PlainName $_) }).Count) {
        $module.FailJson("the transaction journal $journalPath has 'stopped' or 'replaced' that are not lists of " +
            'service names and plain file names; nothing was changed')
    }
    if ($Journal.bin_dir -isnot [string] -or $Journal.undo_dir -isnot [string]) {
        $module.FailJson("the transaction journal $journalPath has 'bin_dir' or 'undo_dir' that are not folder paths; nothing was changed")
    }
}

Function Test-JournalFolder($Journal) {
    # transaction.check_folders, for unfinished journals only: a journal never steers copies elsewhere.
    $undoOk = ([IO.Path]::GetFullPath($Journal.undo_dir)).StartsWith([IO.Path]::GetFullPath($workDir).TrimEnd('\') + '\', 'OrdinalIgnoreCase')
    $binOk = $Journal.bin_dir -match '\\bin\\(i386|alpha)\\?$' -and (-not $module.Params.bin_dir -or
        [IO.Path]::GetFullPath($Journal.bin_dir).TrimEnd('\') -eq [IO.Path]::GetFullPath($module.Params.bin_dir).TrimEnd('\'))
    if (-not ($undoOk -and $binOk)) {
        $module.FailJson("the transaction journal $journalPath names folders ($($Journal.bin_dir), $($Journal.undo_dir)) " +
            "that differ from this run's; nothing was changed")
    }
}

Function Get-ServiceNow($Name) {
    $svc = Get-Service -Name $Name -ErrorAction SilentlyContinue
    if ($svc) { $svc.Refresh() }
    $svc
}

Function Wait-Settled($Svc, [DateTime]$Deadline) {
    # A service in StartPending, ContinuePending or PausePending accepts no stop (ControlService
    # fails with ERROR_SERVICE_CANNOT_ACCEPT_CTRL): wait, within the deadline, until it settles.
    while ($Svc.Status -in 'StartPending', 'ContinuePending', 'PausePending' -and [DateTime]::UtcNow -lt $Deadline) {
        Start-Sleep -Milliseconds 500
        $Svc.Refresh()
    }
}

Function Get-Remaining([DateTime]$Deadline) {
    $left = $Deadline - [DateTime]::UtcNow
    if ($left -lt [TimeSpan]::Zero) { [TimeSpan]::Zero } else { $left }
}

Function Stop-Journaled($Name, $Journal) {
    # ServiceController.Stop() would stop running dependents itself, unjournaled: stop them first, each journaled.
    $svc = Get-ServiceNow $Name
    if (-not $svc -or $svc.Status -eq 'Stopped') { return }
    foreach ($dependent in @($svc.DependentServices)) { Stop-Journaled -Name $dependent.Name -Journal $Journal }
    $svc.Refresh()
    if ($svc.Status -eq 'Stopped') { return }
    if ($Journal.stopped -notcontains $svc.Name) {
        $Journal.stopped = @($Journal.stopped) + $svc.Name
        Write-Journal $Journal
    }
    $deadline = [DateTime]::UtcNow + $timeout
    try {
        Wait-Settled $svc $deadline
        if ($svc.Status -ne 'StopPending' -and $svc.Status -ne 'Stopped') { $svc.Stop() }
        $svc.WaitForStatus('Stopped', (Get-Remaining $deadline))
    }
    catch {
        $svc.Refresh()
        throw "Service '$Name' did not stop within $($module.Params.stop_timeout) seconds (it is $($svc.Status))"
    }
}

Function Start-Journaled($Name) {
    # Start-Service has no timeout: start and wait, both within one stop_timeout.
    $svc = Get-ServiceNow $Name
    if (-not $svc) { throw "Service '$Name' does not exist" }
    if ($svc.Status -eq 'Running') { return }
    $deadline = [DateTime]::UtcNow + $timeout
    try {
        if ($svc.Status -eq 'StopPending') { $svc.WaitForStatus('Stopped', (Get-Remaining $deadline)) }
        if ($svc.Status -in 'Paused', 'PausePending') { Wait-Settled $svc $deadline; $svc.Continue() }
        elseif ($svc.Status -eq 'Stopped') { $svc.Start() }
        $svc.WaitForStatus('Running', (Get-Remaining $deadline))
    }
    catch {
        $svc.Refresh()
        throw "Service '$Name' did not start within $($module.Params.stop_timeout) seconds (it is $($svc.Status))"
    }
}

Function Start-Reverse($Journal) {
    # Start what the journal stopped, in reverse order; every one is attempted. Returns the problems.
    $problems = @()
    $order = @($Journal.stopped)
    [array]::Reverse($order)
    foreach ($name in $order) {
        try { Start-Journaled $name; $module.Result.restarted += $name }
        catch { $problems += "start ${name}: $($_.Exception.Message)" }
    }
    , $problems
}

Function Undo-Transaction($Journal) {
    # Roll back: stop every journaled service that runs again (a crash reboots the host and auto-starts
    # them), copy the originals back and check them, start what was stopped. Returns the problems.
    $problems = @()
    $Journal.phase = 'rolling_back'
    try { Write-Journal $Journal } catch { $problems += "journal: $($_.Exception.Message)" }
    # Services are stopped again only to copy files back (nothing replaced: nothing holds a new DLL).
    foreach ($name in @(if (-not $problems -and @($Journal.replaced).Count) { $Journal.stopped })) {
        try { Stop-Journaled -Name $name -Journal $Journal }
        catch { $problems += "stop ${name}: $($_.Exception.Message)" }
    }
    if (-not $problems) {
        foreach ($name in @($Journal.replaced)) {
            try {
                $original = Join-Path $Journal.undo_dir $name
                $target = Join-Path $Journal.bin_dir $name
                $was = Get-FileFacts $original
                # Journaled before its copy, so it may never have been copied (or is already restored).
                if ((Get-FileFacts $target).sha256 -eq $was.sha256) { continue }
                Copy-Item -LiteralPath $original -Destination $target -Force
                $now = Get-FileFacts $target
                if ($now.sha256 -ne $was.sha256) { throw "$name differs from its backup after the copy" }
            }
            catch { $problems += "restore ${name}: $($_.Exception.Message)" }
        }
    }
    $problems += Start-Reverse $Journal
    $Journal.phase = if ($problems) { 'rollback_failed' } else { 'rolled_back' }
    $Journal.error = if ($problems) { $problems -join '; ' } else { $Journal.error }
    try { Write-Journal $Journal } catch { $problems += "journal: $($_.Exception.Message)" }
    , $problems
}

Function Get-Console {
    # One console detection for every module: mmc.exe with the SMS snap-in on its command line. An
    # mmc.exe whose command line cannot be read (another session, a protected process) may be the
    # console: it counts as one.
    try {
        @(Get-CimInstance -ClassName Win32_Process -Filter "Name = 'mmc.exe'" |
                Where-Object { $null -eq $_.CommandLine -or $_.CommandLine -like '*sms.msc*' })
    }
    catch { $module.FailJson("cannot tell whether the SMS Administrator console runs (Win32_Process: $($_.Exception.Message)); nothing was changed") }
}

Function Set-WorkFolder($Path) {
    # SYSTEM and Administrators only, without inheritance: the staged DLLs and backups are loaded by
    # services running as SYSTEM later. Applied every run (staging may have created the folder first);
    # the protected DACL propagates to what is already inside. Returns kept, set (new) or fixed (an
    # existing folder that granted more; warned about).
    $existed = Test-Path -LiteralPath $Path -PathType Container
    if (-not $existed) { $null = New-Item -Path $Path -ItemType Directory -Force }
    $current = Get-Acl -LiteralPath $Path
    $rules = @($current.Access | ForEach-Object { '{0}|{1}|{2}' -f $_.IdentityReference.Translate([Security.Principal.SecurityIdentifier]).Value, $_.FileSystemRights, $_.AccessControlType })
    $private = $current.AreAccessRulesProtected -and $rules.Count -eq 2 -and
        $rules -contains 'S-1-5-18|FullControl|Allow' -and $rules -contains 'S-1-5-32-544|FullControl|Allow'
    if ($private) { return 'kept' }
    $acl = New-Object Security.AccessControl.DirectorySecurity
    $acl.SetAccessRuleProtection($true, $false)
    foreach ($sid in 'S-1-5-18', 'S-1-5-32-544') {
        $rule = New-Object Security.AccessControl.FileSystemAccessRule((New-Object Security.Principal.SecurityIdentifier($sid)),
            'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow')
        $acl.AddAccessRule($rule)
    }
    Set-Acl -LiteralPath $Path -AclObject $acl
    if (-not $existed) { return 'set' }
    $module.Warn("the work folder $Path granted $($rules -join ', '); it is now SYSTEM and Administrators only")
    'fixed'
}

Function Test-NothingToDo {
    # A recovery without a journal, a rollback without a journal or a backup manifest: nothing to do,
    # and the host stays exactly as it is (no work folder, no lock).
    if ($module.Params.state -eq 'replaced') { return $false }
    $paths = @($journalPath, "$journalPath.tmp")
    if ($module.Params.state -eq 'restored') { $paths += Join-Path $module.Params.backup_dir 'manifest.json' }
    -not @($paths | Where-Object { Test-Path -LiteralPath $_ -PathType Leaf }).Count
}

Function Get-RecordProblem($Journal, $Action) {
    # transaction.recovery_problem: only the controller's recorded transaction is recovered, and only from
    # undo copies that match what the controller recorded before the change.
    $recorded = if ($module.Params.expect) { $module.Params.expect.transactions } else { $null }
    if (-not $recorded -or -not $recorded.Count) { return 'the controller has no record of the transaction that left this journal' }
    if (-not $Journal.id -or -not $recorded.ContainsKey("$($Journal.id)")) {
        return "the journal belongs to transaction '$($Journal.id)', which this controller never recorded"
    }
    if ($Action -ne 'roll_back') { return $null }
    $before = $recorded["$($Journal.id)"]
    foreach ($name in @($Journal.replaced)) {
        $undo = Get-FileFacts (Join-Path $Journal.undo_dir $name)
        $wanted = if ($before) { $before[$name] } else { $null }
        if ($undo -and (-not $wanted -or $undo.sha256 -ne $wanted.ToLowerInvariant())) {
            return "the undo copy of $name has SHA-256 $($undo.sha256), but before the change the controller recorded $(if ($wanted) { $wanted } else { 'nothing' })"
        }
    }
    $null
}

# 1. One transaction per host: the lock is held open until the module ends (the finally at the
# end closes it, also after ExitJson/FailJson: a psrp runspace outlives the module). Check mode
# creates nothing: it only tests an existing lock.
if (Test-NothingToDo) { $module.ExitJson() }
if (-not $module.CheckMode) { $module.Result.work_dir_acl = Set-WorkFolder $workDir }
$module.Result.lock = $null
$lock = $null
$lockFile = Join-Path $workDir 'q317061.lock'
if ((Test-Path -LiteralPath $workDir -PathType Container) -and
    (-not $module.CheckMode -or (Test-Path -LiteralPath $lockFile -PathType Leaf))) {
    try {
        $lock = [IO.File]::Open($lockFile, $(if ($module.CheckMode) { 'Open' } else { 'OpenOrCreate' }), 'ReadWrite', 'None')
        $module.Result.lock = $lockFile
    }
    catch [IO.IOException] {
        $module.Result.refused = $true  # a precondition, nothing changed: a person (or a later run), not a failure
        $module.FailJson("the host is busy: another Q317061 transaction holds $lockFile; nothing was changed")
    }
}
try {

    # 2. Recover an unfinished transaction first (transaction.recovery).
    $previous = Read-Journal
    if ($previous) { Test-Journal $previous }
    if ($previous -and $previous.phase -notin @('done', 'rolled_back')) {
        Test-JournalFolder $previous
        $action = if ($previous.phase -eq 'restarting') { 'roll_forward' } else { 'roll_back' }
        $problem = Get-RecordProblem $previous $action
        if ($problem) {
            $module.Result.refused = $true
            $module.FailJson("the unfinished transaction (phase $($previous.phase)) was not recovered: $problem; nothing was changed: check the host by hand (SMS services may be stopped)")
        }
        $module.Result.recovered = @{ phase = $previous.phase; action = $action }
        $module.Result.changed = $true
        if (-not $module.CheckMode) {
            $journal = @{}
            foreach ($p in $previous.PSObject.Properties) { $journal[$p.Name] = $p.Value }
            $journal.stopped = @($previous.stopped)
            $journal.replaced = @($previous.replaced)
            if ($action -eq 'roll_forward') {
                $problems = Start-Reverse $journal
                $journal.phase = if ($problems) { 'restarting' } else { 'done' }
                try { Write-Journal $journal } catch { $problems += "journal: $($_.Exception.Message)" }
            }
            else { $problems = Undo-Transaction $journal }
            if ($problems) {
                $module.FailJson("an interrupted transaction (phase $($previous.phase)) could not be recovered: $($problems -join '; ')")
            }
            $module.Warn("recovered a transaction interrupted during phase '$($previous.phase)' ($($action -replace '_', ' '))")
        }
    }
    if ($module.Params.state -eq 'recovered') { $module.ExitJson() }

    # 3. What changes (transaction.replace_action / restore_action).
    $binDir = $module.Params.bin_dir
    $backupDir = $module.Params.backup_dir
    $manifestPath = Join-Path $backupDir 'manifest.json'
    $manifest = $null
    if (Test-Path -LiteralPath $manifestPath -PathType Leaf) {
        try {
            $manifest = ConvertFrom-Json -InputObject ([IO.File]::ReadAllText($manifestPath))
            $names = @(@($manifest.files) | ForEach-Object { if ($_ -is [Management.Automation.PSCustomObject]) { $_.name } else { '' } })
            if ($manifest -isnot [Management.Automation.PSCustomObject] -or @($names | Where-Object { -not (Test-PlainName $_) }).Count) {
                throw 'it is not an object whose files have plain names'
            }
        }
        catch { $module.FailJson("the backup manifest $manifestPath cannot be read ($($_.Exception.Message)); nothing was changed") }
    }
    $wanted = @()
    if ($module.Params.state -eq 'replaced') {
        foreach ($file in $module.Params.files) {
            if (-not (Test-PlainName $file.name)) { $module.FailJson("files: '$($file.name)' is not a plain file name; nothing was changed") }
            $wanted += @{ name = $file.name; source = $file.source; version = $file.version; sha256 = $file.sha256.ToLowerInvariant() }
        }
        # The action's gzip upload becomes the staged copy (checked below like any staged file); a new file
        # in the work folder takes its permissions.
        foreach ($file in $module.Params.files) {
            if (-not $file.upload -or $module.CheckMode -or -not (Test-Path -LiteralPath $file.upload -PathType Leaf)) { continue }
            try {
                $null = New-Item -Path (Split-Path -Path $file.source -Parent) -ItemType Directory -Force
                Expand-Upload -Path $file.upload -Destination $file.source
            }
            catch { $module.FailJson("the upload $($file.upload) of $($file.name) cannot be expanded ($($_.Exception.Message)); nothing was changed") }
            finally { Remove-Item -LiteralPath $file.upload -Force -ErrorAction SilentlyContinue }
        }
    }
    else {
        foreach ($entry in @($manifest.files)) {
            if ($null -eq $entry) { continue }
            $wanted += @{ name = $entry.name; source = (Join-Path $backupDir $entry.name); version = $entry.version
                sha256 = $entry.sha256; installed_version = $entry.installed_version; installed_sha256 = $entry.installed_sha256
            }
        }
    }
    $before = @{}
    $after = @{}
    $current = @{}
    $pending = @()
    $refused = @()
    foreach ($file in $wanted) {
        $now = Get-FileFacts (Join-Path $binDir $file.name)
        $current[$file.name] = $now
        $before[$file.name] = $now.version
        $after[$file.name] = $now.version
        if ($module.Params.state -eq 'replaced') {
            # transaction.replace_action
            if ($null -eq $now) {
                $refused += "$($file.name): it is missing from $binDir (the hotfix replaces SMS's own files; repair SMS first)"
                continue
            }
            $order = Compare-Version $now.version $file.version
            if ($null -eq $order) { $refused += "$($file.name): its version cannot be read (no version resource)" }
            elseif ($order -lt 0 -or ($order -eq 0 -and $now.sha256 -ne $file.sha256)) { $pending += $file }
        }
        else {
            # transaction.restore_action
            if (Test-SameFile $now $file.version $file.sha256) { continue }
            if (-not $file.installed_version) {
                $refused += "$($file.name): the backup manifest does not say what the hotfix installed"
            }
            elseif (Test-SameFile $now $file.installed_version $file.installed_sha256) { $pending += $file }
            else {
                $refused += "$($file.name): it is $(if ($now) { $now.version } else { 'missing' }) now, not the " +
                "$($file.installed_version) the hotfix installed: something was installed since (an SMS service pack " +
                "or hotfix), so putting the $($file.version) backup back would downgrade it"
            }
        }
    }
    $module.Result.before = $before
    if ($module.Params.state -eq 'restored' -and $pending.Count) {
        # transaction.restore_problem: the backups must be what the controller recorded.
        $originals = if ($module.Params.expect) { $module.Params.expect.originals } else { $null }
        $installedSha = if ($module.Params.expect) { $module.Params.expect.installed } else { $null }
        if (-not $originals -or -not $originals.Count) {
            $refused += 'the controller has no record of a change to this host, so no backup can be trusted'
            $module.Result.refused = $true
        }
        else {
            foreach ($file in $pending) {
                if ("$($file.sha256)".ToLowerInvariant() -ne "$($originals[$file.name])" -or
                    "$($file.installed_sha256)".ToLowerInvariant() -ne "$(if ($installedSha) { $installedSha[$file.name] })") {
                    $refused += "the backup manifest's SHA-256 of $($file.name) differs from the controller's record: the backup or its manifest was changed on the host"
                    $module.Result.refused = $true
                    break
                }
            }
        }
    }
    if ($refused) {
        $module.Result.after = $after
        $module.FailJson("$(if ($module.Params.state -eq 'restored') { 'rollback refused' } else { 'refused' }): $($refused -join '; '); nothing was changed")
    }
    foreach ($file in $pending) { $after[$file.name] = $file.version }
    $module.Result.after = $after
    if ($pending.Count -eq 0) { $module.ExitJson() }

    # 4. The staged (or backed-up) files must be exactly the bundle's (or the originals'): version and SHA-256.
    foreach ($file in $pending) {
        $staged = Get-FileFacts $file.source
        if ($null -eq $staged) {
            if ($module.CheckMode) { continue }
            $module.FailJson("source file $($file.source) for $($file.name) does not exist; nothing was changed")
        }
        if ((Compare-Version $staged.version $file.version) -ne 0 -or $staged.sha256 -ne $file.sha256) {
            $module.FailJson("source file $($file.source) is version $($staged.version) with SHA-256 $($staged.sha256), " +
                "expected $($file.version) with $($file.sha256); nothing was changed")
        }
    }

    # 5. The console (KB step 4), and the plan.
    $console = Get-Console
    if ($console.Count -gt 0 -and $module.Params.admin_console -eq 'refuse') {
        $module.Result.refused = $true
        $module.FailJson("the SMS Administrator console is running (PID $($console.ProcessId -join ', ')); " +
            "quit it or set admin_console=close (KB Q317061 step 4); nothing was changed")
    }
    # Services by their real names (Get-Service also matches display names, in any case).
    $stopOrder = @(foreach ($n in $module.Params.services) { $s = Get-ServiceNow $n; if ($s -and $s.Status -ne 'Stopped') { $s.Name } })
    $wmi = Get-ServiceNow $module.Params.wmi_service
    if ($wmi -and $wmi.Status -ne 'Stopped') {
        $stopOrder += @($wmi.DependentServices | Where-Object { $_.Status -ne 'Stopped' -and $stopOrder -notcontains $_.Name } |
                ForEach-Object { $_.Name })
        $stopOrder += $wmi.Name
    }
    $module.Result.changed = $true
    $module.Result.plan = @{ stop = $stopOrder; close_console = ($console.Count -gt 0); files = @($pending | ForEach-Object { $_.name }) }
    $module.Diff.before = $before
    $module.Diff.after = $after
    if ($module.CheckMode) { $module.ExitJson() }

    foreach ($process in $console) {
        try { Stop-Process -Id $process.ProcessId -Force } catch [Microsoft.PowerShell.Commands.ProcessCommandException] { }  # already quit
    }
    # Stop-Process returns before the process has exited and unmapped its DLLs.
    if ($console.Count) { Wait-Process -Id @($console.ProcessId) -Timeout 30 -ErrorAction SilentlyContinue }

    # 6. The transaction.
    $undoDir = Join-Path $workDir 'undo'
    $journal = @{
        phase = 'stopping'; state = $module.Params.state; bin_dir = $binDir; undo_dir = $undoDir; transport = 'winrm'
        id = $module.Params.transaction_id
        stopped = @(); replaced = @(); before = $before; after = $after; error = $null; started = [DateTime]::UtcNow.ToString('o')
    }
    Write-Journal $journal
    try {
        foreach ($name in $stopOrder) { Stop-Journaled -Name $name -Journal $journal }
        $journal.phase = 'backing_up'
        Write-Journal $journal
        $null = New-Item -Path $undoDir -ItemType Directory -Force
        $null = New-Item -Path $backupDir -ItemType Directory -Force
        $kept = @(@($manifest.files) | Where-Object { $_ } | ForEach-Object { $_.name })
        foreach ($file in $pending) {
            # Every pending file exists (a missing one is refused), so undo\ never holds a stale copy for it.
            $target = Join-Path $binDir $file.name
            Copy-Item -LiteralPath $target -Destination (Join-Path $undoDir $file.name) -Force
            # The first original is kept for ever; later transactions never overwrite it.
            if ($module.Params.state -eq 'replaced' -and $kept -notcontains $file.name) {
                Copy-Item -LiteralPath $target -Destination (Join-Path $backupDir $file.name) -Force
            }
        }
        $journal.phase = 'replacing'
        Write-Journal $journal
        foreach ($file in $pending) {
            $journal.replaced = @($journal.replaced) + $file.name
            Write-Journal $journal
            Copy-Item -LiteralPath $file.source -Destination (Join-Path $binDir $file.name) -Force
        }
        $journal.phase = 'verifying'
        Write-Journal $journal
        $installed = @{}
        foreach ($file in $pending) {
            $now = Get-FileFacts (Join-Path $binDir $file.name)
            if ($now.sha256 -ne $file.sha256) { throw "$($file.name) is version $($now.version) after the copy, expected $($file.version) ($($file.sha256))" }
            $installed[$file.name] = $now
        }
        if ($module.Params.state -eq 'replaced') {
            # transaction.manifest_entries: the originals as first seen, and what we installed last.
            $entries = @{}
            foreach ($entry in @($manifest.files)) { if ($entry) { $entries[$entry.name] = @{ name = $entry.name; version = $entry.version; sha256 = $entry.sha256 } } }
            foreach ($name in $installed.Keys) {
                if (-not $entries.ContainsKey($name)) {
                    $entries[$name] = @{ name = $name; version = $current[$name].version; sha256 = $current[$name].sha256 }
                }
                $entries[$name].installed_version = $installed[$name].version
                $entries[$name].installed_sha256 = $installed[$name].sha256
            }
            foreach ($entry in @($manifest.files)) {
                if ($entry -and -not $installed.ContainsKey($entry.name)) {
                    $entries[$entry.name].installed_version = $entry.installed_version
                    $entries[$entry.name].installed_sha256 = $entry.installed_sha256
                }
            }
            Write-JsonFile -Path $manifestPath -Value @{ files = @($entries.Keys | Sort-Object | ForEach-Object { $entries[$_] }); taken = $journal.started }
        }
        $journal.phase = 'restarting'
        Write-Journal $journal
    }
    catch {
        $reason = $_.Exception.Message.TrimEnd('.')
        $journal.error = $reason
        $problems = Undo-Transaction $journal
        # Rolled back: this transaction changed nothing, but a recovery before it did.
        $module.Result.changed = [bool]$module.Result.recovered
        $module.Result.after = $before
        $module.Diff.Clear()  # rolled back: nothing changed
        $tail = if ($problems) { " Rollback problems: $($problems -join '; ')" } else { ' The original DLLs are in place and the services were restarted.' }
        # A DLL another program holds (the console, a backup agent) refused the copy: all is back as it was.
        $module.Result.refused = (-not $problems) -and $reason -match 'being used by another process'
        $module.FailJson("$reason.$tail")
    }

    # 7. Restart: the new files are verified, so a failure here rolls forward, never back over running services.
    $problems = Start-Reverse $journal
    $module.Result.stopped = @($journal.stopped)
    if ($problems) {
        $journal.error = $problems -join '; '
        Write-Journal $journal
        $module.FailJson("the new DLLs are in place and verified, but not every service started: $($problems -join '; '); " +
            'the next run starts them (the journal stays in phase restarting)')
    }
    $journal.phase = 'done'
    Write-Journal $journal
    $module.ExitJson()

}
finally {
    if ($lock) { $lock.Dispose() }
}
