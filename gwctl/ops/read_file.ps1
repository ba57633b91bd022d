# gwctl-operation: read_file
#
# Reads one file whole.
# params:  path (absolute Windows path)
# result:  {exists, size, sha256, mtime, content_b64}; all but exists are null when the
#          file does not exist (a directory counts as no file, as File.Exists says)
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

function Format-Utc([datetime]$Time) {
    $inv = [Globalization.CultureInfo]::InvariantCulture
    $Time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", $inv)
}

Assert-Params @('path')
$path = Get-WinPath 'path'
if (-not [IO.File]::Exists($path)) {
    return [ordered]@{ exists = $false; size = $null; sha256 = $null; mtime = $null; content_b64 = $null }
}
$bytes = [IO.File]::ReadAllBytes($path)
[ordered]@{
    exists      = $true
    size        = $bytes.Length
    sha256      = (Get-Sha256 $bytes)
    mtime       = (Format-Utc ([IO.File]::GetLastWriteTimeUtc($path)))
    content_b64 = [Convert]::ToBase64String($bytes)
}
