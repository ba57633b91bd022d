# gwctl-operation: app_pool_state
#
# State of an IIS application pool.
# params:  name (the pool's name)
# result:  {name (as IIS spells it), state (Started|Starting|Stopped|Stopping|Unknown),
#          last_recycle}: IIS records no recycle time, so last_recycle is the start
#          time (UTC) of the pool's newest worker process, null when none runs
# errors:  bad_params, not_found (no such pool), failed
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

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
