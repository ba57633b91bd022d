# gwctl-operation: app_pool_state
#
# State of an IIS application pool.
# params:  name (the pool's name)
# result:  {name (as IIS spells it), state (Started|Starting|Stopped|Stopping|Unknown),
#          last_recycle}: IIS records no recycle time, so last_recycle is the start
#          time (UTC) of the pool's newest worker process, null when none runs
# errors:  bad_params, not_found (no such pool), failed
param($Params, [byte[]]$Payload)

function Fail([string]$Code, [string]$Message, $Detail = @{}) {
    throw @{ gwctl_code = $Code; message = $Message; detail = $Detail }
}

function Assert-Params([string[]]$Allowed) {
    foreach ($n in @($Params.PSObject.Properties | ForEach-Object { $_.Name })) {
        if ($Allowed -cnotcontains $n) { Fail 'bad_params' "unknown parameter '$n'" }
    }
}

function Get-PoolName {
    $v = $Params.name
    if ($v -isnot [string] -or $v.Length -eq 0 -or $v -match '["\x00-\x1f]') {
        Fail 'bad_params' "parameter 'name' must be an application pool name"
    }
    $v
}

function Format-Utc([datetime]$Time) {
    $inv = [Globalization.CultureInfo]::InvariantCulture
    $Time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", $inv)
}

function Test-WebAdministration {
    try { Import-Module WebAdministration -ErrorAction Stop; return $true } catch { return $false }
}

function Invoke-AppCmd([string[]]$Arguments) {
    $ErrorActionPreference = 'Continue'
    $appcmd = [IO.Path]::Combine($env:windir, 'system32\inetsrv\appcmd.exe')
    $out = @(& $appcmd @Arguments 2>&1 | ForEach-Object { [string]$_ })
    if ($LASTEXITCODE -ne 0) {
        Fail 'failed' ('appcmd ' + $Arguments[0] + ' failed: ' + ($out -join ' ')) ([ordered]@{ exit_code = $LASTEXITCODE })
    }
    $out
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

function Get-WorkerStart([string]$Name) {
    # w3wp.exe carries its pool as -ap "<name>"; the filter is a constant, the name
    # only ever compared
    try {
        $workers = @(Get-CimInstance -ClassName Win32_Process -Filter "Name = 'w3wp.exe'")
    } catch {
        return $null
    }
    $newest = $null
    foreach ($w in $workers) {
        if ($w.CommandLine -match '-ap\s+"([^"]+)"' -and $Matches[1] -eq $Name) {
            if ($null -eq $newest -or $w.CreationDate -gt $newest) { $newest = $w.CreationDate }
        }
    }
    if ($null -eq $newest) { return $null }
    Format-Utc $newest
}

Assert-Params @('name')
$web = Test-WebAdministration
$name = Find-Pool (Get-PoolName) $web
[ordered]@{ name = $name; state = (Get-PoolState $name $web); last_recycle = (Get-WorkerStart $name) }
