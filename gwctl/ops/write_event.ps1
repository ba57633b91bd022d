# gwctl-operation: write_event
#
# Writes one entry to the Windows Application event log under gwctl's own event source,
# creating the source when it is missing (that needs administrator rights once).
# params:  event_id (1000..1099), entry_type (Information|Warning|Error), message (the
#          audit record as JSON, at most 30000 characters)
# result:  {log: "Application", source: "gwctl", event_id, entry_type, written_at (UTC)}
# errors:  bad_params, failed
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

Assert-Params @('event_id', 'entry_type', 'message') @('event_id', 'entry_type', 'message')
$id = $Params.event_id
if (($id -isnot [int] -and $id -isnot [long]) -or $id -lt 1000 -or $id -gt 1099) {
    Fail 'bad_params' "write_event: event_id must be an integer in 1000..1099"
}
$type = [string]$Params.entry_type
if (@('Information', 'Warning', 'Error') -cnotcontains $type) {
    Fail 'bad_params' "write_event: entry_type must be Information, Warning or Error"
}
$message = $Params.message
if ($message -isnot [string] -or $message.Length -eq 0 -or $message.Length -gt 30000) {
    Fail 'bad_params' "write_event: message must be a string of 1..30000 characters"
}
$source = 'gwctl'
# the event log caps a message at 31839 characters; the source is fixed, never a parameter
if (-not [System.Diagnostics.EventLog]::SourceExists($source)) {
    New-EventLog -LogName 'Application' -Source $source
}
$writtenAt = Format-Utc ([DateTime]::UtcNow)
Write-EventLog -LogName 'Application' -Source $source -EventId ([int]$id) `
    -EntryType $type -Message $message
[ordered]@{
    log = 'Application'; source = $source; event_id = [int]$id; entry_type = $type
    written_at = $writtenAt
}
