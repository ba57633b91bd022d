# gwctl-operation: list_backups
#
# Lists the backups of one file, newest first.
# params:  path (absolute Windows path of the file), backup_dir (absolute Windows path)
# result:  {backups: [{backup_id, backup_path, sha256, absent, created, verified}]};
#          sha256 is null for an absent marker, created is the UTC time the id encodes,
#          verified tells whether gwctl-manifest.json signs it with the host key
# errors:  bad_params, io_error
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

function Format-BackupTime([string]$Id) {
    $inv = [Globalization.CultureInfo]::InvariantCulture
    $styles = [Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal'
    $t = [DateTime]::ParseExact($Id, "yyyyMMdd'T'HHmmssffffff'Z'", $inv, $styles)
    $t.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", $inv)
}

Assert-Params @('path', 'backup_dir')
$path = Get-WinPath 'path'
$dir = Get-WinPath 'backup_dir'
$leaf = [IO.Path]::GetFileName($path)
$prefix = $dir -replace '[\\/]+$', ''
$found = @(Get-Backups $dir $leaf)
$key = $null
if ($found.Count -gt 0) { $key = Get-HostKey }
$backups = @(foreach ($b in $found) {
    $sha = $null
    if (-not $b.absent) { $sha = Get-Sha256 ([IO.File]::ReadAllBytes($b.file)) }
    [ordered]@{
        backup_id   = $b.id
        backup_path = $prefix + '\' + [IO.Path]::GetFileName($b.file)
        sha256      = $sha
        absent      = $b.absent
        created     = (Format-BackupTime $b.id)
        verified    = (Test-BackupSigned $dir $key ([IO.Path]::GetFileName($b.file)) $sha)
    }
})
[ordered]@{ backups = $backups }
