# gwctl-operation: read_file
#
# Reads one file whole.
# params:  path (absolute Windows path)
# result:  {exists, size, sha256, mtime, content_b64}; all but exists are null when the
#          file does not exist (a directory counts as no file, as File.Exists says)
# errors:  bad_params, io_error
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

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
