# gwctl-operation: recycle_app_pool
#
# Recycles an IIS application pool; a stopped pool is started instead (IIS rapid-fail
# protection stops a pool whose worker keeps crashing, e.g. on a broken appsettings,
# and a rollback must bring the gateway back).
# params:  name (the pool's name, e.g. "VideoOS ApiGateway AppPool")
# result:  {name (as IIS spells it), state (Started|Starting|Stopped|Stopping|Unknown),
#          recycled_at (UTC, when the recycle was requested)}
# errors:  bad_params, not_found (no such pool), failed
# Uses the WebAdministration module, or appcmd.exe (argument array, never a command
# string) where that module is missing.
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

function Wait-Started([string]$Name, [bool]$Web) {
    # a recycle or start is asynchronous: give IIS a few seconds to report the outcome
    $state = Get-PoolState $Name $Web
    for ($i = 0; $i -lt 20 -and $state -ne 'Started' -and $state -ne 'Stopped'; $i++) {
        Start-Sleep -Milliseconds 250
        $state = Get-PoolState $Name $Web
    }
    $state
}

Assert-Params @('name')
$web = Test-WebAdministration
$name = Find-Pool (Get-PoolName) $web
$recycledAt = Format-Utc ([DateTime]::UtcNow)
$stopped = (Get-PoolState $name $web) -eq 'Stopped'
if ($web) {
    if ($stopped) { Start-WebAppPool -Name $name } else { Restart-WebAppPool -Name $name }
} else {
    $verb = 'recycle'
    if ($stopped) { $verb = 'start' }
    $null = Invoke-AppCmd @($verb, 'apppool', "/apppool.name:$name")
}
[ordered]@{ name = $name; state = (Wait-Started $name $web); recycled_at = $recycledAt }
