# gwctl-operation: ping
#
# Proves the host answers and runs gwctl's scripts.
# params:  {}
# result:  {hostname, powershell (version), implementation: "powershell"}
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

foreach ($n in @($Params.PSObject.Properties | ForEach-Object { $_.Name })) {
    Fail 'bad_params' "ping: unknown parameter '$n'"
}

[ordered]@{
    hostname       = [Environment]::MachineName
    powershell     = $PSVersionTable.PSVersion.ToString()
    implementation = 'powershell'
}
