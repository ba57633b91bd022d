# gwctl-operation: lock_release
#
# Releases the lock taken with lock_acquire.
# params:  path (absolute Windows path of the lock file), token (from lock_acquire)
# result:  {released}: false when there was no lock file (already released, so a
#          retried release is harmless)
# errors:  bad_params, not_owner (the file holds another token: this lock expired and
#          was taken over; detail {owner, acquired_at, expires_at}), io_error
# Like the stale takeover, the file is renamed aside before it is deleted and put back
# if it changed since it was read.
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

Assert-Params @('path', 'token')
$path = Get-WinPath 'path'
$token = $Params.token
if ($token -isnot [string] -or $token.Length -eq 0) {
    Fail 'bad_params' "parameter 'token' must be a non-empty string"
}
$key = Get-HostKey
$holder = Read-Lock $path $key
if ($null -eq $holder) { return [ordered]@{ released = $false } }
if ($holder.token -cne $token) {
    Fail 'not_owner' "$path is held by another lock (token mismatch)" (Get-Holder $holder)
}
if (-not (Remove-IfUnchanged $path $holder.raw)) {
    # it changed under us: expired and taken over, or released elsewhere
    $current = Read-Lock $path $key
    if ($null -eq $current) { return [ordered]@{ released = $false } }
    Fail 'not_owner' "$path is held by another lock (token mismatch)" (Get-Holder $current)
}
[ordered]@{ released = $true }
