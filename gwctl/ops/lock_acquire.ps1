# gwctl-operation: lock_acquire
#
# Takes the host-wide gwctl lock (a file), or says who holds it.
# params:  path (absolute Windows path of the lock file; its directory is created)
#          owner (free text naming the holder, e.g. "ci@runner-7 pid 4711")
#          ttl_seconds (number in (0, 86400]: the lock expires after that)
#          token (optional, 32 lowercase hex digits chosen by the caller: acquiring again
#          with the token of the live lock succeeds, so a caller whose first answer was
#          lost can find out that it holds the lock)
#          take_over (optional {owner, acquired_at} of a holder, exactly as 'locked'
#          reported it: the caller has proven that holder dead, so its live lock is
#          taken over as if it had expired; any other holder still answers locked)
# result:  {token, owner, acquired_at, expires_at}; keep the token to release
# errors:  bad_params, locked (detail {owner, acquired_at, expires_at} of the holder),
#          io_error
# The lock file holds the result as compact UTF-8 JSON and is created with CreateNew,
# so of two acquirers one wins. A lock past expires_at is stale and taken over: it is
# first renamed to a unique name, and only if the renamed file still holds what was read
# is it deleted (a lock taken over meanwhile by someone else goes back). A lock file
# that cannot be parsed (its writer may be filling it in) is live for 30 s after its
# mtime; a complete lock file without gwctl's signature (HMAC-SHA256 with the host key
# over token, owner, acquired_at, expires_at: the "mac" field) was not written by gwctl
# and is no lock at all; no lock lives longer than 86400 s from the earlier of its acquired_at and its
# mtime, whatever expires_at says. The lock is not re-entrant: acquiring it twice
# answers locked.
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

function New-LockFile([string]$Path, [byte[]]$Bytes) {
    # FileShare.Read: a concurrent reader sees an empty or partial file, not an error
    try {
        $fs = [IO.File]::Open($Path, [IO.FileMode]::CreateNew, [IO.FileAccess]::Write, [IO.FileShare]::Read)
    } catch {
        if ([IO.File]::Exists($Path)) { return $false }
        throw
    }
    try { $fs.Write($Bytes, 0, $Bytes.Length); $fs.Flush($true) } finally { $fs.Dispose() }
    $true
}

function Get-Ttl {
    $v = $Params.ttl_seconds
    $isNumber = $v -is [int] -or $v -is [long] -or $v -is [double] -or $v -is [decimal]
    if (-not $isNumber -or $v -le 0 -or $v -gt $MaxLockSeconds) {
        Fail 'bad_params' "parameter 'ttl_seconds' must be a number in (0, $MaxLockSeconds]"
    }
    [double]$v
}

function Get-TakeOver {
    $v = $Params.take_over
    if ($null -eq $v) { return $null }
    $names = @($v.PSObject.Properties | ForEach-Object { $_.Name } | Sort-Object)
    $ok = ($names -join ',') -ceq 'acquired_at,owner' -and $v.owner -is [string] -and $v.owner.Length -gt 0 -and $v.acquired_at -is [string] -and $v.acquired_at.Length -gt 0
    if (-not $ok) { Fail 'bad_params' "parameter 'take_over' must be {owner, acquired_at} of a holder" }
    $v
}

Assert-Params @('path', 'owner', 'ttl_seconds', 'token', 'take_over')
$path = Get-WinPath 'path'
$owner = $Params.owner
if ($owner -isnot [string] -or $owner.Length -eq 0) {
    Fail 'bad_params' "parameter 'owner' must be a non-empty string"
}
$ttl = Get-Ttl
$token = $Params.token
if ($null -ne $token -and ($token -isnot [string] -or $token -cnotmatch '^[0-9a-f]{32}$')) {
    Fail 'bad_params' "parameter 'token' must be 32 lowercase hex digits"
}
$takeOver = Get-TakeOver
Protect-Directory ([IO.Path]::GetDirectoryName($path))
$key = Get-HostKey
$utf8 = New-Object Text.UTF8Encoding $false
$holder = $null
for ($round = 0; $round -lt 5; $round++) {
    $now = [DateTime]::UtcNow
    $record = [ordered]@{
        token       = $(if ($null -ne $token) { $token } else { [Guid]::NewGuid().ToString('N') })
        owner       = $owner
        acquired_at = (Format-Utc $now)
        expires_at  = (Format-Utc $now.AddSeconds($ttl))
    }
    $signed = [ordered]@{}
    foreach ($k in $record.Keys) { $signed[$k] = $record[$k] }
    $signed.mac = Get-LockSignature $key $record
    if (New-LockFile $path $utf8.GetBytes((ConvertTo-Json -InputObject $signed -Compress))) {
        return $record
    }
    $holder = Read-Lock $path $key
    if ($null -eq $holder) { continue }
    if ($holder.expires -gt [DateTime]::UtcNow) {
        if ($null -ne $token -and $holder.token -ceq $token) {
            return [ordered]@{ token = $token; owner = $holder.owner; acquired_at = $holder.acquired_at; expires_at = (Format-Utc $holder.expires) }
        }
        $proven = $null -ne $takeOver -and $holder.owner -ceq $takeOver.owner -and $holder.acquired_at -ceq $takeOver.acquired_at
        if (-not $proven) { Fail 'locked' ("$path is locked by " + $holder.owner) (Get-Holder $holder) }
    }
    $null = Remove-IfUnchanged $path $holder.raw
}
# every round lost a race against other acquirers: one of them holds it now
$holder = Read-Lock $path $key
$detail = @{}
if ($null -ne $holder) { $detail = Get-Holder $holder }
Fail 'locked' "$path is locked" $detail
