# gwctl-operation: stat
#
# Size, digest and mtime of several files in one round trip.
# params:  paths (list of absolute Windows paths)
# result:  {files: {<path as given>: {exists, size, sha256, mtime}}}; size, sha256 and
#          mtime are null for a file that does not exist
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

function Get-Sha256([byte[]]$Bytes) {
    $sha = [Security.Cryptography.SHA256]::Create()
    try { ([BitConverter]::ToString($sha.ComputeHash($Bytes))).Replace('-', '').ToLowerInvariant() }
    finally { $sha.Dispose() }
}

function Format-Utc([datetime]$Time) {
    $inv = [Globalization.CultureInfo]::InvariantCulture
    $Time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", $inv)
}

function Get-Info([string]$Path) {
    if (-not [IO.File]::Exists($Path)) {
        return [ordered]@{ exists = $false; size = $null; sha256 = $null; mtime = $null }
    }
    $bytes = [IO.File]::ReadAllBytes($Path)
    [ordered]@{
        exists = $true
        size   = $bytes.Length
        sha256 = (Get-Sha256 $bytes)
        mtime  = (Format-Utc ([IO.File]::GetLastWriteTimeUtc($Path)))
    }
}

Assert-Params @('paths')
$paths = @($Params.paths)
if ($null -eq $Params.paths -or $Params.paths -is [string]) {
    Fail 'bad_params' "parameter 'paths' must be a list of absolute Windows paths"
}
foreach ($path in $paths) {
    if ($path -isnot [string] -or $path -notmatch '^[A-Za-z]:[\\/]') {
        Fail 'bad_params' "parameter 'paths' must be a list of absolute Windows paths"
    }
}
# keys are compared case-sensitively, as JSON objects are: [ordered]@{} would merge
# paths that differ only in case
$files = New-Object System.Collections.Specialized.OrderedDictionary
foreach ($path in $paths) { $files[$path] = Get-Info $path }
[ordered]@{ files = $files }
