# gwctl-library: common
#
# Functions shared by the operation scripts. Not sent on its own: an operation's include
# line naming this file is replaced by its text when the operation is read for sending
# (gwctl.ops.read_script), so every operation still travels as one self-contained
# script. The functions read $Params from the operation's scope.

function Fail([string]$Code, [string]$Message, $Detail = @{}) {
    throw @{ gwctl_code = $Code; message = $Message; detail = $Detail }
}

function Assert-Params([string[]]$Allowed, [string[]]$Required = @()) {
    $names = @($Params.PSObject.Properties | ForEach-Object { $_.Name })
    foreach ($n in $names) {
        if ($Allowed -cnotcontains $n) { Fail 'bad_params' "unknown parameter '$n'" }
    }
    foreach ($n in $Required) {
        if ($names -cnotcontains $n) { Fail 'bad_params' "parameter '$n' is required" }
    }
}

function Test-PlainPath($Path) {
    # The paths the Python twin accepts (gwctl/ops/winpaths.py): absolute with a drive
    # letter, no '.' or '..' component, no trailing dot or space, no device name, no
    # character a file name cannot hold. And Windows must resolve it to itself: a path
    # that GetFullPath changes would lead somewhere else than the one that was checked.
    if ($Path -isnot [string] -or $Path -notmatch '^[A-Za-z]:[\\/]') { return $false }
    $parts = @($Path.Substring(3) -split '[\\/]+' | Where-Object { $_ -ne '' })
    foreach ($part in $parts) {
        if ($part -eq '.' -or $part -eq '..') { return $false }
        if ($part -ne $part.TrimEnd([char[]]@('.', ' '))) { return $false }
        if ($part -match '[<>:"|?*\x00-\x1f]') { return $false }
        if ($part -match '^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\..*)?$') { return $false }
        if ($part -cmatch '[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]') { return $false }
    }
    $normal = $Path.Substring(0, 2) + '\' + ($parts -join '\')
    try { $full = [IO.Path]::GetFullPath($Path) } catch { return $false }
    $full.TrimEnd([char[]]@('\')) -eq $normal.TrimEnd([char[]]@('\'))
}

function Get-WinPath([string]$Name) {
    $v = $Params.$Name
    if (-not (Test-PlainPath $v)) {
        Fail 'bad_params' "parameter '$Name' must be an absolute, normalised local Windows path (no UNC or relative path, no '.' or '..', no device name)"
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

function ConvertTo-UtcDate($Value) {
    # PowerShell 7's ConvertFrom-Json already turns ISO strings into DateTime
    if ($Value -is [datetime]) { return $Value.ToUniversalTime() }
    $inv = [Globalization.CultureInfo]::InvariantCulture
    $styles = [Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal'
    [DateTime]::Parse([string]$Value, $inv, $styles)
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

# gwctl's own folder (lock, activation record, host key) and backup directories hold
# secrets and decide what rollback restores: Administrators and SYSTEM only, no
# inheritance from ProgramData (whose default ACL lets Users create files in subfolders)
$GwctlHome = 'C:\ProgramData\gwctl'
$ManifestName = 'gwctl-manifest.json'

function Protect-Directory([string]$Path) {
    $null = [IO.Directory]::CreateDirectory($Path)
    $acl = New-Object Security.AccessControl.DirectorySecurity
    $acl.SetAccessRuleProtection($true, $false)
    foreach ($sid in @('S-1-5-32-544', 'S-1-5-18')) {
        $who = New-Object Security.Principal.SecurityIdentifier $sid
        $rule = New-Object Security.AccessControl.FileSystemAccessRule $who, 'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow'
        $acl.AddAccessRule($rule)
    }
    [IO.Directory]::SetAccessControl($Path, $acl)
}

function Get-HostKey {
    Protect-Directory $GwctlHome
    $path = [IO.Path]::Combine($GwctlHome, 'host.key')
    if (-not [IO.File]::Exists($path)) {
        $bytes = New-Object byte[] 32
        $rng = New-Object Security.Cryptography.RNGCryptoServiceProvider
        try { $rng.GetBytes($bytes) } finally { $rng.Dispose() }
        try {
            $fs = [IO.File]::Open($path, [IO.FileMode]::CreateNew, [IO.FileAccess]::Write, [IO.FileShare]::None)
            try { $fs.Write($bytes, 0, $bytes.Length); $fs.Flush($true) } finally { $fs.Dispose() }
        } catch {
            # another run created it first: use theirs
            if (-not [IO.File]::Exists($path)) { throw }
        }
    }
    $key = [IO.File]::ReadAllBytes($path)
    if ($key.Length -ne 32) { Fail 'io_error' "$path is damaged ($($key.Length) bytes, not 32)" }
    , $key
}

function Get-BackupSignature([byte[]]$Key, [string]$Name, $Digest) {
    if ($null -eq $Digest) { $Digest = 'absent' }
    $hmac = New-Object Security.Cryptography.HMACSHA256 (, $Key)
    try {
        $mac = $hmac.ComputeHash((New-Object Text.UTF8Encoding $false).GetBytes($Name + "`n" + $Digest))
        ([BitConverter]::ToString($mac)).Replace('-', '').ToLowerInvariant()
    } finally { $hmac.Dispose() }
}

function Read-Manifest([string]$Dir) {
    $entries = @{}
    $path = [IO.Path]::Combine($Dir, $ManifestName)
    if (-not [IO.File]::Exists($path)) { return $entries }
    try {
        $doc = (New-Object Text.UTF8Encoding $false).GetString([IO.File]::ReadAllBytes($path)) | ConvertFrom-Json
        foreach ($p in @($doc.backups.PSObject.Properties)) { $entries[$p.Name] = [string]$p.Value }
    } catch {
        # a damaged manifest signs nothing: every backup is unverified
    }
    $entries
}

function Write-Manifest([string]$Dir, $Entries) {
    $sorted = [ordered]@{}
    foreach ($name in @($Entries.Keys | Sort-Object)) { $sorted[$name] = $Entries[$name] }
    $json = ConvertTo-Json -InputObject ([ordered]@{ format = 1; backups = $sorted }) -Depth 3
    Write-Atomic ([IO.Path]::Combine($Dir, $ManifestName)) ((New-Object Text.UTF8Encoding $false).GetBytes($json))
}

function Test-BackupSigned([string]$Dir, [byte[]]$Key, [string]$Name, $Digest) {
    $entries = Read-Manifest $Dir
    if (-not $entries.ContainsKey($Name)) { return $false }
    $entries[$Name] -ceq (Get-BackupSignature $Key $Name $Digest)
}

# the longest a lock may be asked for (ttl_seconds), and the longest any lock lives
$MaxLockSeconds = 86400

function Get-LockSignature([byte[]]$Key, $Record) {
    $hmac = New-Object Security.Cryptography.HMACSHA256 (, $Key)
    try {
        # timestamps normalised: PowerShell 7's ConvertFrom-Json turns them into DateTime
        $acquired = Format-Utc (ConvertTo-UtcDate $Record.acquired_at)
        $expires = Format-Utc (ConvertTo-UtcDate $Record.expires_at)
        $text = 'lock' + "`n" + $Record.token + "`n" + $Record.owner + "`n" + $acquired + "`n" + $expires
        $mac = $hmac.ComputeHash((New-Object Text.UTF8Encoding $false).GetBytes($text))
        ([BitConverter]::ToString($mac)).Replace('-', '').ToLowerInvariant()
    } finally { $hmac.Dispose() }
}

function Read-Lock([string]$Path, [byte[]]$Key) {
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
        $acquired = ConvertTo-UtcDate $record.acquired_at
        if ([string]$record.mac -cne (Get-LockSignature $Key $record)) {
            # complete, but not written by gwctl on this host: no lock at all
            $lock.owner = [string]$record.owner
            $lock.expires = [DateTime]::MinValue
            return $lock
        }
        # whatever the file says, no lock outlives the longest TTL anyone may ask for
        $cap = $acquired
        if ($mtime -lt $cap) { $cap = $mtime }
        $cap = $cap.AddSeconds($MaxLockSeconds)
        if ($cap -lt $expires) { $expires = $cap }
        $lock.acquired_at = Format-Utc $acquired
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

function Test-WebAdministration {
    try { Import-Module WebAdministration -ErrorAction Stop; return $true } catch { return $false }
}

function Find-Pool([string]$Name, [bool]$Web) {
    if ($Web) {
        $names = @(Get-ChildItem -Path 'IIS:\AppPools' | ForEach-Object { $_.Name })
    } else {
        $names = @(Invoke-AppCmd @('list', 'apppool', '/text:name'))
    }
    foreach ($n in $names) { if ($n -eq $Name) { return $n } }
    Fail 'not_found' "application pool '$Name' does not exist"
}

function Get-PoolState([string]$Name, [bool]$Web) {
    if ($Web) { return [string](Get-WebAppPoolState -Name $Name).Value }
    $lines = @(Invoke-AppCmd @('list', 'apppool', "/apppool.name:$Name", '/text:state'))
    if ($lines.Count -eq 0) { return 'Unknown' }
    $lines[0].Trim()
}

function Get-PoolName {
    $v = $Params.name
    # IIS refuses these in pool names, and appcmd's /apppool.name: could not carry them
    if ($v -isnot [string] -or $v.Length -eq 0 -or $v -match '["\x00-\x1f]') {
        Fail 'bad_params' "parameter 'name' must be an application pool name"
    }
    $v
}

function Invoke-AppCmd([string[]]$Arguments) {
    # appcmd writes its errors to stdout and stderr; neither may stop the script here
    $ErrorActionPreference = 'Continue'
    $appcmd = [IO.Path]::Combine($env:windir, 'system32\inetsrv\appcmd.exe')
    $out = @(& $appcmd @Arguments 2>&1 | ForEach-Object { [string]$_ })
    if ($LASTEXITCODE -ne 0) {
        Fail 'failed' ('appcmd ' + $Arguments[0] + ' failed: ' + ($out -join ' ')) ([ordered]@{ exit_code = $LASTEXITCODE })
    }
    $out
}

# With gwctl's JEA module installed (gwctl host-setup, docs/jea.md), every path parameter
# of every operation must lie below one of the directories its policy file pins; checked
# before the operation does anything (gwctl/ops/jea_policy.py is the simulator's twin).
function Test-Pinned([string]$Path, [string[]]$Roots) {
    $parts = @($Path -split '[\\/]+' | Where-Object { $_ -ne '' })
    foreach ($part in $parts) { if ($part -eq '.' -or $part -eq '..') { return $false } }
    foreach ($root in $Roots) {
        $prefix = @($root -split '[\\/]+' | Where-Object { $_ -ne '' })
        if ($prefix.Count -eq 0 -or $prefix.Count -gt $parts.Count) { continue }
        $same = $true
        for ($i = 0; $i -lt $prefix.Count; $i++) {
            if ($parts[$i].ToUpperInvariant() -cne $prefix[$i].ToUpperInvariant()) { $same = $false; break }
        }
        if ($same) { return $true }
    }
    $false
}

function Assert-Pinned {
    $f = [IO.Path]::Combine($env:ProgramFiles, 'WindowsPowerShell\Modules\GwctlOperations\GwctlOperations.policy.json')
    if (-not [IO.File]::Exists($f)) { return }
    $policy = (New-Object Text.UTF8Encoding $false).GetString([IO.File]::ReadAllBytes($f)) | ConvertFrom-Json
    $roots = @($policy.pinned | ForEach-Object { [string]$_ })
    if ($roots.Count -eq 0) { return }
    # stat's host parameter carries read_host's parameters: they are checked the same way
    $nested = $null
    $h = $Params.PSObject.Properties['host']
    if ($null -ne $h -and $null -ne $h.Value -and $h.Value -isnot [string]) { $nested = $h.Value }
    foreach ($scope in @($Params, $nested)) {
        if ($null -eq $scope) { continue }
        foreach ($name in @('path', 'paths', 'backup_dir', 'install_dir', 'server_config', 'log_dir')) {
            $p = $scope.PSObject.Properties[$name]
            if ($null -eq $p) { continue }
            foreach ($v in @($p.Value)) {
                # a null optional path (read_versions' server_config) names nothing
                if ($null -eq $v) { continue }
                if ($v -isnot [string] -or -not (Test-Pinned $v $roots)) {
                    Fail 'path_not_allowed' "parameter '$name' is outside the directories this host's gwctl endpoint is pinned to: $v" ([ordered]@{ parameter = $name })
                }
            }
        }
    }
}

Assert-Pinned
