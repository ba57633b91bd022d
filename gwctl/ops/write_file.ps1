# gwctl-operation: write_file
#
# Replaces a file with the payload, atomically.
# params:  path (absolute Windows path)
#          sha256 (hex SHA-256 of the payload)
#          expected_sha256 (hex digest the current file must have | "absent" | null);
#          the key must be present: a misspelt guard must not silently vanish
# payload: the new content
# result:  {changed, sha256}
# errors:  bad_params, hash_mismatch (detail {expected, actual}),
#          conflict (detail {expected, current}), not_found (no such directory), io_error
# The payload is checked before anything is touched; a target that already holds the
# payload is left alone (changed false) whatever expected_sha256 says, so a retried
# write is harmless. The bytes go to .<name>.gwctl-<random>.tmp beside the target and
# replace it with File.Replace (keeps the target's ACL) or File.Move when it is new.
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

function Get-Digest([string]$Name) {
    $v = $Params.$Name
    if ($v -isnot [string] -or $v -notmatch '^[0-9a-fA-F]{64}$') {
        Fail 'bad_params' "parameter '$Name' must be a SHA-256 hex digest"
    }
    $v.ToLowerInvariant()
}

Assert-Params @('path', 'sha256', 'expected_sha256') @('path', 'sha256', 'expected_sha256')
$path = Get-WinPath 'path'
$want = Get-Digest 'sha256'
$expected = $Params.expected_sha256
if ($null -ne $expected -and $expected -cne 'absent') { $expected = Get-Digest 'expected_sha256' }
if ($null -eq $Payload) { $Payload = [byte[]]@() }

$actual = Get-Sha256 $Payload
if ($actual -cne $want) {
    Fail 'hash_mismatch' "payload for $path does not match its sha256" ([ordered]@{ expected = $want; actual = $actual })
}
$current = 'absent'
if ([IO.File]::Exists($path)) { $current = Get-Sha256 ([IO.File]::ReadAllBytes($path)) }
if ($current -ceq $want) { return [ordered]@{ changed = $false; sha256 = $want } }
if ($null -ne $expected -and $expected -cne $current) {
    Fail 'conflict' "$path changed since it was read (lost-update guard)" ([ordered]@{ expected = $expected; current = $current })
}
if (-not [IO.Directory]::Exists([IO.Path]::GetDirectoryName($path))) {
    Fail 'not_found' "directory of $path does not exist"
}
Write-Atomic $path $Payload
[ordered]@{ changed = $true; sha256 = $want }
