# gwctl-operation: read_versions
#
# Installed versions of the API Gateway and of the management server.
# params:  install_dir (absolute Windows path of the gateway's install directory)
#          server_config (absolute Windows path of ServerConfig.xml, or null/missing)
# result:  {gateway: {version, source: "registry"} | null,
#          management_server: {version, source: <server_config>} | null,
#          install_dir_exists, warnings: [text]}
# errors:  bad_params
# The gateway's version is the DisplayVersion of the Uninstall registry entry whose
# DisplayName is "Milestone XProtect API Gateway" (64-bit view first, then 32-bit); the
# management server's is ServerConfig.xml's /server/version. Unreadable sources give
# null and a warning, not a failure: one broken source must not hide the other.
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

function Get-GatewayVersion($Warnings) {
    $roots = @(
        'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall',
        'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall'
    )
    foreach ($root in $roots) {
        try {
            if (-not (Test-Path -LiteralPath $root)) { continue }
            foreach ($key in @(Get-ChildItem -LiteralPath $root)) {
                $name = $key.GetValue('DisplayName')
                $version = $key.GetValue('DisplayVersion')
                if ($name -eq 'Milestone XProtect API Gateway' -and $version) {
                    return [ordered]@{ version = [string]$version; source = 'registry' }
                }
            }
        } catch {
            $null = $Warnings.Add("registry $root unreadable: " + $_.Exception.Message)
        }
    }
    $null
}

function Get-ManagementVersion([string]$Path, $Warnings) {
    if (-not [IO.File]::Exists($Path)) { return $null }
    try {
        $doc = New-Object Xml.XmlDocument
        $doc.XmlResolver = $null
        $doc.Load($Path)
        $node = $doc.SelectSingleNode('/server/version')
    } catch {
        $null = $Warnings.Add("${Path}: not well-formed XML: " + $_.Exception.Message)
        return $null
    }
    if ($null -eq $node -or -not $node.InnerText.Trim()) {
        $null = $Warnings.Add("${Path}: no /server/version element")
        return $null
    }
    [ordered]@{ version = $node.InnerText.Trim(); source = $Path }
}

Assert-Params @('install_dir', 'server_config')
$installDir = Get-WinPath 'install_dir'
$serverConfig = $null
if ($null -ne $Params.server_config) { $serverConfig = Get-WinPath 'server_config' }
$warnings = New-Object System.Collections.ArrayList
$gateway = Get-GatewayVersion $warnings
$management = $null
if ($null -ne $serverConfig) { $management = Get-ManagementVersion $serverConfig $warnings }
[ordered]@{
    gateway            = $gateway
    management_server  = $management
    install_dir_exists = [IO.Directory]::Exists($installDir)
    warnings           = @($warnings)
}
