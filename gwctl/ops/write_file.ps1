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

function Fail([string]$Code, [string]$Message, $Detail = @{}) {
    throw @{ gwctl_code = $Code; message = $Message; detail = $Detail }
}

function Assert-Params([string[]]$Allowed, [string[]]$Required) {
    $names = @($Params.PSObject.Properties | ForEach-Object { $_.Name })
    foreach ($n in $names) {
        if ($Allowed -cnotcontains $n) { Fail 'bad_params' "unknown parameter '$n'" }
    }
    foreach ($n in $Required) {
        if ($names -cnotcontains $n) { Fail 'bad_params' "parameter '$n' is required" }
    }
}

function Get-WinPath([string]$Name) {
    $v = $Params.$Name
    if ($v -isnot [string] -or $v -notmatch '^[A-Za-z]:[\\/]') {
        Fail 'bad_params' "parameter '$Name' must be an absolute Windows path"
    }
    $v
}

function Get-Digest([string]$Name) {
    $v = $Params.$Name
    if ($v -isnot [string] -or $v -notmatch '^[0-9a-fA-F]{64}$') {
        Fail 'bad_params' "parameter '$Name' must be a SHA-256 hex digest"
    }
    $v.ToLowerInvariant()
}

function Get-Sha256([byte[]]$Bytes) {
    $sha = [Security.Cryptography.SHA256]::Create()
    try { ([BitConverter]::ToString($sha.ComputeHash($Bytes))).Replace('-', '').ToLowerInvariant() }
    finally { $sha.Dispose() }
}

function Write-Atomic([string]$Path, [byte[]]$Bytes) {
    $dir = [IO.Path]::GetDirectoryName($Path)
    $id = [Guid]::NewGuid().ToString('N').Substring(0, 12)
    $tmp = [IO.Path]::Combine($dir, '.' + [IO.Path]::GetFileName($Path) + '.gwctl-' + $id + '.tmp')
    try {
        $fs = New-Object IO.FileStream -ArgumentList $tmp, ([IO.FileMode]::CreateNew), ([IO.FileAccess]::Write), ([IO.FileShare]::None)
        try { $fs.Write($Bytes, 0, $Bytes.Length); $fs.Flush($true) } finally { $fs.Dispose() }
        if ([IO.File]::Exists($Path)) { Replace-File $tmp $Path } else { [IO.File]::Move($tmp, $Path) }
    } finally {
        if ([IO.File]::Exists($tmp)) { [IO.File]::Delete($tmp) }
    }
}

function Replace-File([string]$Source, [string]$Target) {
    # readers (IIS, NLog's watcher) can hold the target for a moment: retry briefly
    for ($i = 1; ; $i++) {
        try {
            # [NullString]: PowerShell would pass $null to a string parameter as ""
            [IO.File]::Replace($Source, $Target, [NullString]::Value)
            return
        } catch {
            if ($i -ge 5) { throw }
            Start-Sleep -Milliseconds 200
        }
    }
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
