# gwctl-operation: restore
#
# Puts a backup back in place, with the same atomic procedure as write_file.
# params:  path (absolute Windows path of the file), backup_dir (absolute Windows path)
#          backup_id (an id from backup/list_backups; null or missing = the newest)
# result:  {backup_id, sha256, changed}; restoring an absent marker deletes the file
#          (sha256 null); a target already equal to the backup is left alone
# errors:  bad_params, not_found (no such backup, or no directory for the file), io_error,
#          tampered (the backup has no valid signature in the backup directory's
#          gwctl-manifest.json: planted, altered, or older than signed backups)
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

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

$digest = $null
if (-not $backup.absent) { $digest = Get-Sha256 ([IO.File]::ReadAllBytes($backup.file)) }
$name = [IO.Path]::GetFileName($backup.file)
if (-not (Test-BackupSigned $dir (Get-HostKey) $name $digest)) {
    Fail 'tampered' ("backup " + $backup.id + " of $leaf was not written by gwctl on this host, or was changed since (no valid signature in $dir\$ManifestName); refusing to restore it") @{ backup_id = $backup.id }
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
