# gwctl-operation: stat
#
# Size, digest and mtime (and with content=true the bytes) of several files in one
# round trip: a diff reads a gateway's three files with one operation.
# params:  paths (list of absolute Windows paths), content (optional boolean),
#          host (optional: read_host's parameters {install_dir, pool, log_dir})
# result:  {files: {<path as given>: {exists, size, sha256, mtime[, content_b64]}}
#          [, host: read_host's result]}; size, sha256, mtime and content_b64 are null for
#          a file that does not exist
# errors:  bad_params, io_error
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1
# gwctl-include: hostfacts.ps1

function Get-Info([string]$Path, [bool]$WithContent) {
    if (-not [IO.File]::Exists($Path)) {
        $info = [ordered]@{ exists = $false; size = $null; sha256 = $null; mtime = $null }
        if ($WithContent) { $info.content_b64 = $null }
        return $info
    }
    $bytes = [IO.File]::ReadAllBytes($Path)
    $info = [ordered]@{
        exists = $true
        size   = $bytes.Length
        sha256 = (Get-Sha256 $bytes)
        mtime  = (Format-Utc ([IO.File]::GetLastWriteTimeUtc($Path)))
    }
    if ($WithContent) { $info.content_b64 = [Convert]::ToBase64String($bytes) }
    $info
}

Assert-Params @('paths', 'content', 'host')
$withContent = $false
if ($null -ne $Params.content) {
    if ($Params.content -isnot [bool]) { Fail 'bad_params' "parameter 'content' must be true or false" }
    $withContent = $Params.content
}
$paths = @($Params.paths)
if ($null -eq $Params.paths -or $Params.paths -is [string]) {
    Fail 'bad_params' "parameter 'paths' must be a list of absolute Windows paths"
}
foreach ($path in $paths) {
    if (-not (Test-PlainPath $path)) {
        Fail 'bad_params' "parameter 'paths' must be a list of absolute, normalised local Windows paths"
    }
}
# keys are compared case-sensitively, as JSON objects are: [ordered]@{} would merge
# paths that differ only in case
$files = New-Object System.Collections.Specialized.OrderedDictionary
foreach ($path in $paths) { $files[$path] = Get-Info $path $withContent }
$result = [ordered]@{ files = $files }
if ($null -ne $Params.host) {
    if ($Params.host -isnot [pscustomobject]) { Fail 'bad_params' "parameter 'host' must be an object" }
    $result.host = Get-HostFacts $Params.host
}
$result
