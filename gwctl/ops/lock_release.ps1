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

function Format-Utc([datetime]$Time) {
    $inv = [Globalization.CultureInfo]::InvariantCulture
    $Time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", $inv)
}

function ConvertTo-UtcDate($Value) {
    # PowerShell 7's ConvertFrom-Json already turns ISO strings into DateTime
    if ($Value -is [datetime]) { return $Value.ToUniversalTime() }
    $inv = [Globalization.CultureInfo]::InvariantCulture
    $styles = [Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal'
    [DateTime]::Parse([string]$Value, $inv, $styles)
}

function Read-Lock([string]$Path) {
    try {
        $raw = [IO.File]::ReadAllBytes($Path)
        $mtime = [IO.File]::GetLastWriteTimeUtc($Path)
    } catch {
        if (-not [IO.File]::Exists($Path)) { return $null }
        throw
    }
    $lock = [ordered]@{ raw = $raw; token = $null; owner = $null; acquired_at = $null; expires = $mtime.AddSeconds(30) }
    try {
        $record = (New-Object Text.UTF8Encoding $false).GetString($raw) | ConvertFrom-Json
        $expires = ConvertTo-UtcDate $record.expires_at
        $lock.acquired_at = Format-Utc (ConvertTo-UtcDate $record.acquired_at)
        $lock.token = [string]$record.token
        $lock.owner = [string]$record.owner
        $lock.expires = $expires
    } catch {
        # unreadable: keeps the mtime-based expiry set above
    }
    $lock
}

function Get-Holder($Lock) {
    [ordered]@{ owner = $Lock.owner; acquired_at = $Lock.acquired_at; expires_at = (Format-Utc $Lock.expires) }
}

function Remove-IfUnchanged([string]$Path, [byte[]]$Raw) {
    $id = [Guid]::NewGuid().ToString('N').Substring(0, 12)
    $aside = [IO.Path]::Combine([IO.Path]::GetDirectoryName($Path), '.' + [IO.Path]::GetFileName($Path) + '.gwctl-' + $id + '.stale')
    try { [IO.File]::Move($Path, $aside) } catch {
        if ([IO.File]::Exists($Path)) { throw }
        return $false
    }
    if ([Convert]::ToBase64String([IO.File]::ReadAllBytes($aside)) -ceq [Convert]::ToBase64String($Raw)) {
        [IO.File]::Delete($aside)
        return $true
    }
    try { [IO.File]::Move($aside, $Path) } catch { [IO.File]::Delete($aside) }
    $false
}

Assert-Params @('path', 'token')
$path = Get-WinPath 'path'
$token = $Params.token
if ($token -isnot [string] -or $token.Length -eq 0) {
    Fail 'bad_params' "parameter 'token' must be a non-empty string"
}
$holder = Read-Lock $path
if ($null -eq $holder) { return [ordered]@{ released = $false } }
if ($holder.token -cne $token) {
    Fail 'not_owner' "$path is held by another lock (token mismatch)" (Get-Holder $holder)
}
if (-not (Remove-IfUnchanged $path $holder.raw)) {
    # it changed under us: expired and taken over, or released elsewhere
    $current = Read-Lock $path
    if ($null -eq $current) { return [ordered]@{ released = $false } }
    Fail 'not_owner' "$path is held by another lock (token mismatch)" (Get-Holder $current)
}
[ordered]@{ released = $true }
