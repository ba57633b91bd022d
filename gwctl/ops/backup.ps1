# gwctl-operation: backup
#
# Copies a file into a backup directory and prunes that file's older backups.
# params:  path (absolute Windows path of the file)
#          backup_dir (absolute Windows path; created when missing)
#          keep (integer 1..1000: backups of this file to keep, the new one included)
#          backup_id (optional: the id to store it under, chosen by the client for
#          every file of one apply; null or missing = chosen here)
#          expected_sha256 (optional: hex digest the file must have | "absent" | null)
# result:  {backup_id, backup_path, sha256, absent}
# errors:  bad_params, conflict (detail {expected, current}; nothing is copied),
#          out_of_order (backup_id is not after every backup in backup_dir, or this
#          file has it already; detail {backup_id, newest}), io_error
# Backups are named <name>.<yyyyMMddTHHmmssffffffZ>.bak (UTC); a file that does not
# exist is recorded as an empty <name>.<id>.absent marker so that restore removes it.
# An id chosen here is never older than the newest existing one (a clock stepping back
# must not make retention delete the new backup) and a taken name is never overwritten.
# backup_dir is made Administrators/SYSTEM-only, and every backup is signed in its
# gwctl-manifest.json with the host key (HMAC-SHA256 of name LF sha256-or-"absent").
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

function ConvertFrom-BackupId([string]$Id) {
    $inv = [Globalization.CultureInfo]::InvariantCulture
    $styles = [Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal'
    [DateTime]::ParseExact($Id, "yyyyMMdd'T'HHmmssffffff'Z'", $inv, $styles)
}

function New-TempCopy([string]$Dir, [string]$Leaf, [byte[]]$Bytes) {
    $id = [Guid]::NewGuid().ToString('N').Substring(0, 12)
    $tmp = [IO.Path]::Combine($Dir, '.' + $Leaf + '.gwctl-' + $id + '.tmp')
    $fs = New-Object IO.FileStream -ArgumentList $tmp, ([IO.FileMode]::CreateNew), ([IO.FileAccess]::Write), ([IO.FileShare]::None)
    try { $fs.Write($Bytes, 0, $Bytes.Length); $fs.Flush($true) }
    catch { $fs.Dispose(); [IO.File]::Delete($tmp); throw }
    $fs.Dispose()
    $tmp
}

function Publish-Backup([string]$Final, $Tmp) {
    # true when the name was free; the name is claimed atomically either way
    try {
        if ($null -eq $Tmp) {
            $fs = [IO.File]::Open($Final, [IO.FileMode]::CreateNew, [IO.FileAccess]::Write, [IO.FileShare]::None)
            $fs.Dispose()
        } else {
            [IO.File]::Move($Tmp, $Final)
        }
        return $true
    } catch {
        if ([IO.File]::Exists($Final)) { return $false }
        throw
    }
}

function Get-SetId {
    # a client-chosen id: ASCII digits only, nothing after the Z, a moment that exists
    $v = $Params.backup_id
    if ($null -eq $v) { return $null }
    $bad = "parameter 'backup_id' must be a backup id or null"
    if ($v -isnot [string]) { Fail 'bad_params' $bad }
    $v = $v.ToUpperInvariant()
    if ($v -cnotmatch '^[0-9]{8}T[0-9]{12}Z\z') { Fail 'bad_params' $bad }
    try { $null = ConvertFrom-BackupId $v } catch { Fail 'bad_params' $bad }
    $v
}

function Get-NewestId([string]$Dir) {
    # the newest id among the backups of every file in the directory that the manifest
    # lists: a file gwctl never listed cannot block every later apply by a future name
    $newest = $null
    if (-not [IO.Directory]::Exists($Dir)) { return $null }
    $listed = Read-Manifest $Dir
    foreach ($file in [IO.Directory]::GetFiles($Dir)) {
        $n = [IO.Path]::GetFileName($file)
        if ($listed.ContainsKey($n) -and $n -cmatch '^(.+)\.(\d{8}T\d{12}Z)\.(bak|absent)$') {
            if ($null -eq $newest -or [string]::CompareOrdinal($Matches[2], $newest) -gt 0) { $newest = $Matches[2] }
        }
    }
    $newest
}

Assert-Params @('path', 'backup_dir', 'keep', 'backup_id', 'expected_sha256')
$path = Get-WinPath 'path'
$dir = Get-WinPath 'backup_dir'
$keep = $Params.keep
if (-not ($keep -is [int] -or $keep -is [long]) -or $keep -lt 1 -or $keep -gt 1000) {
    Fail 'bad_params' "parameter 'keep' must be an integer in 1..1000"
}
$wanted = Get-SetId
$expected = $Params.expected_sha256
if ($null -ne $expected -and $expected -cne 'absent') {
    if ($expected -isnot [string] -or $expected -notmatch '^[0-9a-fA-F]{64}$') {
        Fail 'bad_params' "parameter 'expected_sha256' must be a SHA-256 hex digest"
    }
    $expected = $expected.ToLowerInvariant()
}
$leaf = [IO.Path]::GetFileName($path)
if (-not $leaf) { Fail 'bad_params' "path names a directory, not a file: $path" }

$bytes = $null
if ([IO.File]::Exists($path)) { $bytes = [IO.File]::ReadAllBytes($path) }
$kind = 'bak'
if ($null -eq $bytes) { $kind = 'absent' }
# the plan's read, checked under the lock before anything is copied: a refused backup
# leaves no backup behind, and the batch stops before any write
$current = 'absent'
if ($null -ne $bytes) { $current = Get-Sha256 $bytes }
if ($null -ne $expected -and $expected -cne $current) {
    Fail 'conflict' "$path changed since it was read (lost-update guard)" ([ordered]@{ expected = $expected; current = $current })
}
if ($null -ne $wanted) {
    $newest = Get-NewestId $dir
    $taken = @(Get-Backups $dir $leaf | Where-Object { $_.id -ceq $wanted }).Count -gt 0
    if ($taken -or ($null -ne $newest -and [string]::CompareOrdinal($newest, $wanted) -gt 0)) {
        Fail 'out_of_order' "backup id $wanted does not come after the newest backup $newest in the backup directory (is the controller's clock behind the one that took it?)" ([ordered]@{ backup_id = $wanted; newest = $newest })
    }
}
Protect-Directory $dir
$key = Get-HostKey

$moment = [DateTime]::UtcNow
$newest = @(Get-Backups $dir $leaf) | Select-Object -First 1
if ($null -ne $newest) {
    $after = (ConvertFrom-BackupId $newest.id).AddTicks(10)
    if ($after -gt $moment) { $moment = $after }
}
if ($null -ne $wanted) { $moment = ConvertFrom-BackupId $wanted }

$tmp = $null
if ($null -ne $bytes) { $tmp = New-TempCopy $dir $leaf $bytes }
$inv = [Globalization.CultureInfo]::InvariantCulture
$stored = $null
try {
    # a chosen id is tried once: no backup of this file holds it or a later one
    $tries = 1000
    if ($null -ne $wanted) { $tries = 1 }
    for ($i = 0; $i -lt $tries -and $null -eq $stored; $i++) {
        $id = $moment.ToString("yyyyMMdd'T'HHmmssffffff'Z'", $inv)
        $final = [IO.Path]::Combine($dir, ('{0}.{1}.{2}' -f $leaf, $id, $kind))
        if (Publish-Backup $final $tmp) { $stored = $id; $storedName = [IO.Path]::GetFileName($final) }
        $moment = $moment.AddTicks(10)
    }
} finally {
    if ($null -ne $tmp -and [IO.File]::Exists($tmp)) { [IO.File]::Delete($tmp) }
}
if ($null -eq $stored) { Fail 'io_error' "no free backup name for $leaf in $dir" }

$sha = $null
if ($null -ne $bytes) { $sha = Get-Sha256 $bytes }
$entries = Read-Manifest $dir
$entries[$storedName] = Get-BackupSignature $key $storedName $sha

$all = @(Get-Backups $dir $leaf)
for ($i = $keep; $i -lt $all.Count; $i++) {
    # a backup that cannot be pruned now is pruned by a later run
    try {
        [IO.File]::Delete($all[$i].file)
        $entries.Remove([IO.Path]::GetFileName($all[$i].file))
    } catch { }
}
Write-Manifest $dir $entries
[ordered]@{
    backup_id   = $stored
    backup_path = ($Params.backup_dir -replace '[\\/]+$', '') + '\' + $storedName
    sha256      = $sha
    absent      = ($null -eq $bytes)
}
