# gwctl-operation: backup
#
# Copies a file into a backup directory and prunes that file's older backups.
# params:  path (absolute Windows path of the file)
#          backup_dir (absolute Windows path; created when missing)
#          keep (integer 1..1000: backups of this file to keep, the new one included)
# result:  {backup_id, backup_path, sha256, absent}
# errors:  bad_params, io_error
# Backups are named <name>.<yyyyMMddTHHmmssffffffZ>.bak (UTC); a file that does not
# exist is recorded as an empty <name>.<id>.absent marker so that restore removes it.
# The id is never older than the newest existing one (a clock stepping back must not
# make retention delete the new backup) and a taken name is never overwritten.
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

Assert-Params @('path', 'backup_dir', 'keep')
$path = Get-WinPath 'path'
$dir = Get-WinPath 'backup_dir'
$keep = $Params.keep
if (-not ($keep -is [int] -or $keep -is [long]) -or $keep -lt 1 -or $keep -gt 1000) {
    Fail 'bad_params' "parameter 'keep' must be an integer in 1..1000"
}
$leaf = [IO.Path]::GetFileName($path)
if (-not $leaf) { Fail 'bad_params' "path names a directory, not a file: $path" }
Protect-Directory $dir
$key = Get-HostKey

$bytes = $null
if ([IO.File]::Exists($path)) { $bytes = [IO.File]::ReadAllBytes($path) }
$kind = 'bak'
if ($null -eq $bytes) { $kind = 'absent' }

$moment = [DateTime]::UtcNow
$newest = @(Get-Backups $dir $leaf) | Select-Object -First 1
if ($null -ne $newest) {
    $after = (ConvertFrom-BackupId $newest.id).AddTicks(10)
    if ($after -gt $moment) { $moment = $after }
}

$tmp = $null
if ($null -ne $bytes) { $tmp = New-TempCopy $dir $leaf $bytes }
$inv = [Globalization.CultureInfo]::InvariantCulture
$stored = $null
try {
    for ($i = 0; $i -lt 1000 -and $null -eq $stored; $i++) {
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
