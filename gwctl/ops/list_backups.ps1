# gwctl-operation: list_backups
#
# Lists the backups of one file, newest first.
# params:  path (absolute Windows path of the file), backup_dir (absolute Windows path)
# result:  {backups: [{backup_id, backup_path, sha256, absent, created}]}; sha256 is null
#          for an absent marker, created is the UTC time the id encodes
# errors:  bad_params, io_error
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
