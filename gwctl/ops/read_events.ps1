# gwctl-operation: read_events
#
# The newest entries of the Windows Application event log from the named event sources
# (gwctl's audit records, the ASP.NET Core Module's start-up failures). Reads only.
# params:  sources (1..8 provider names), since_minutes (1..10080), max_events (1..500)
# result:  {log: "Application", since (UTC), events: [{source, event_id, entry_type,
#          message, written_at (UTC)}] newest first}
# errors:  bad_params, failed
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

Assert-Params @('sources', 'since_minutes', 'max_events') @('sources', 'since_minutes', 'max_events')
$sources = @($Params.sources)
if ($sources.Count -lt 1 -or $sources.Count -gt 8) {
    Fail 'bad_params' "read_events: sources must name 1..8 event sources"
}
foreach ($s in $sources) {
    if ($s -isnot [string] -or $s.Length -eq 0) {
        Fail 'bad_params' "read_events: parameter 'sources' must be a list of non-empty strings"
    }
}
$minutes = $Params.since_minutes
if (($minutes -isnot [int] -and $minutes -isnot [long]) -or $minutes -lt 1 -or $minutes -gt 10080) {
    Fail 'bad_params' "read_events: parameter 'since_minutes' must be an integer in 1..10080"
}
$max = $Params.max_events
if (($max -isnot [int] -and $max -isnot [long]) -or $max -lt 1 -or $max -gt 500) {
    Fail 'bad_params' "read_events: parameter 'max_events' must be an integer in 1..500"
}
$since = [DateTime]::UtcNow.AddMinutes(-[int]$minutes)
$events = @()
# a provider that is not registered (gwctl's source before its first write_event, IIS
# Express's on a server) has no entries; named in the filter it would fail the whole read
$known = @($sources | Where-Object {
    $null -ne (Get-WinEvent -ListProvider $_ -ErrorAction SilentlyContinue) })
if ($known.Count -gt 0) {
    # the names travel as data in the filter, never as text of a command
    $filter = @{ LogName = 'Application'; ProviderName = [string[]]$known; StartTime = $since.ToLocalTime() }
    try {
        # newest first is Get-WinEvent's own order
        $found = @(Get-WinEvent -FilterHashtable $filter -MaxEvents ([int]$max) -ErrorAction Stop)
    } catch [System.Exception] {
        # "No events were found that match the specified selection criteria" is an empty answer
        if ($_.FullyQualifiedErrorId -like 'NoMatchingEventsFound*') {
            $found = @()
        } else {
            Fail 'failed' "read_events: $($_.Exception.Message)"
        }
    }
    foreach ($e in $found) {
        # levels 1 (Critical) and 2 (Error) are what Write-EventLog calls Error
        $type = 'Information'
        if ([int]$e.Level -eq 1 -or [int]$e.Level -eq 2) { $type = 'Error' }
        elseif ([int]$e.Level -eq 3) { $type = 'Warning' }
        $events += [ordered]@{
            source = $e.ProviderName; event_id = [int]$e.Id; entry_type = $type
            message = [string]$e.Message; written_at = (Format-Utc $e.TimeCreated)
        }
    }
}
[ordered]@{ log = 'Application'; since = (Format-Utc $since); events = $events }
