# gwctl-operation: restore
#
# Puts a backup back in place, with the same atomic procedure as write_file.
# params:  path (absolute Windows path of the file), backup_dir (absolute Windows path)
#          backup_id (an id from backup/list_backups; null or missing = the newest)
# result:  {backup_id, sha256, changed}; restoring an absent marker deletes the file
#          (sha256 null); a target already equal to the backup is left alone
# errors:  bad_params, not_found (no such backup, or no directory for the file), io_error
param($Params, [byte[]]$Payload)

function Fail([string]$Code, [string]$Message, $Detail = @{}) {
    throw @{ gwctl_code = $Code; message = $Message; detail = $Detail }
}

function Assert-Params([string[]]$Allowed) {
    foreach ($n in @($Params.PSObject.Properties | ForEach-Object { $_.Name })) {
        if ($Allowed -cnotcontains $n) { Fail 'bad_params' "unknown parameter '$n'" }
    }
}

function Get-WinPath([string]$Name) {
    $v = $Params.$Name
    if ($v -isnot [string] -or $v -notmatch '^[A-Za-z]:[\\/]') {
        Fail 'bad_params' "parameter '$Name' must be an absolute Windows path"
    }
    $v
}

function Get-Sha256([byte[]]$Bytes) {
    $sha = [Security.Cryptography.SHA256]::Create()
    try { ([BitConverter]::ToString($sha.ComputeHash($Bytes))).Replace('-', '').ToLowerInvariant() }
    finally { $sha.Dispose() }
}

function Get-Backups([string]$Dir, [string]$Leaf) {
    if (-not [IO.Directory]::Exists($Dir)) { return }
    $found = foreach ($file in [IO.Directory]::GetFiles($Dir)) {
        $n = [IO.Path]::GetFileName($file)
        if ($n -cmatch '^(.+)\.(\d{8}T\d{12}Z)\.(bak|absent)$' -and $Matches[1] -eq $Leaf) {
            [pscustomobject]@{ id = $Matches[2]; file = $file; absent = ($Matches[3] -ceq 'absent') }
        }
    }
    $found | Sort-Object -Property id -Descending
}

function Write-Atomic([string]$Path, [byte[]]$Bytes) {
    $dir = [IO.Path]::GetDirectoryName($Path)
    $id = [Guid]::NewGuid().ToString('N').Substring(0, 12)
    $tmp = [IO.Path]::Combine($dir, '.' + [IO.Path]::GetFileName($Path) + '.gwctl-' + $id + '.tmp')
    try {
        $fs = New-Object IO.FileStream -ArgumentList $tmp, ([IO.FileMode]::CreateNew), ([IO.FileAccess]::Write), ([IO.FileShare]::None)
        try { $fs.Write($Bytes, 0, $Bytes.Length); $fs.Flush($true) } finally { $fs.Dispose() }
        if ([IO.File]::Exists($Path)) { Replace-File $tmp $Path } else { [IO.File]::Move($tmp, $Path) }
    } finally {
        if ([IO.File]::Exists($tmp)) { [IO.File]::Delete($tmp) }
    }
}

function Replace-File([string]$Source, [string]$Target) {
    # readers (IIS, NLog's watcher) can hold the target for a moment: retry briefly
    for ($i = 1; ; $i++) {
        try {
            # [NullString]: PowerShell would pass $null to a string parameter as ""
            [IO.File]::Replace($Source, $Target, [NullString]::Value)
            return
        } catch {
            if ($i -ge 5) { throw }
            Start-Sleep -Milliseconds 200
        }
    }
}

function Test-SameBytes([byte[]]$A, [byte[]]$B) {
    if ($A.Length -ne $B.Length) { return $false }
    [Convert]::ToBase64String($A) -ceq [Convert]::ToBase64String($B)
}

Assert-Params @('path', 'backup_dir', 'backup_id')
$path = Get-WinPath 'path'
$dir = Get-WinPath 'backup_dir'
$wanted = $Params.backup_id
if ($null -ne $wanted -and ($wanted -isnot [string] -or $wanted -notmatch '^\d{8}T\d{12}Z$')) {
    Fail 'bad_params' "parameter 'backup_id' must be a backup id or null"
}
$leaf = [IO.Path]::GetFileName($path)
$backup = $null
foreach ($b in @(Get-Backups $dir $leaf)) {
    if ($null -eq $wanted -or $b.id -eq $wanted) { $backup = $b; break }
}
if ($null -eq $backup) {
    if ($null -eq $wanted) { Fail 'not_found' "no backup of $leaf in $dir" }
    Fail 'not_found' "no backup $wanted of $leaf in $dir"
}

if ($backup.absent) {
    $changed = [IO.File]::Exists($path)
    if ($changed) { [IO.File]::Delete($path) }
    return [ordered]@{ backup_id = $backup.id; sha256 = $null; changed = $changed }
}
$bytes = [IO.File]::ReadAllBytes($backup.file)
$changed = $true
if ([IO.File]::Exists($path)) { $changed = -not (Test-SameBytes ([IO.File]::ReadAllBytes($path)) $bytes) }
if ($changed) {
    if (-not [IO.Directory]::Exists([IO.Path]::GetDirectoryName($path))) {
        Fail 'not_found' "directory of $path does not exist"
    }
    Write-Atomic $path $bytes
}
[ordered]@{ backup_id = $backup.id; sha256 = (Get-Sha256 $bytes); changed = $changed }
