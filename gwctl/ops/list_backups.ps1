# gwctl-operation: list_backups
#
# Lists the backups of one file, newest first.
# params:  path (absolute Windows path of the file), backup_dir (absolute Windows path)
# result:  {backups: [{backup_id, backup_path, sha256, absent, created}]}; sha256 is null
#          for an absent marker, created is the UTC time the id encodes
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
$backups = @(foreach ($b in @(Get-Backups $dir $leaf)) {
    $sha = $null
    if (-not $b.absent) { $sha = Get-Sha256 ([IO.File]::ReadAllBytes($b.file)) }
    [ordered]@{
        backup_id   = $b.id
        backup_path = $prefix + '\' + [IO.Path]::GetFileName($b.file)
        sha256      = $sha
        absent      = $b.absent
        created     = (Format-BackupTime $b.id)
    }
})
[ordered]@{ backups = $backups }
