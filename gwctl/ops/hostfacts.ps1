# gwctl-library: hostfacts
#
# What read_host returns, as a function of its parameters: used by read_host.ps1 and by
# stat.ps1's optional "host" parameter, so that a diff reads the managed files and the
# host's facts in one round trip. Needs common.ps1 (included before it).

$AppHostConfig = 'C:\Windows\System32\inetsrv\config\applicationHost.config'
$Visible = @('ASPNETCORE_ENVIRONMENT', 'DOTNET_ENVIRONMENT')
$Masked = '(masked)'

function Read-SafeXml([string]$Path) {
    if (-not [IO.File]::Exists($Path)) { return $null }
    # ReadAllText detects UTF-8, UTF-16 and UTF-32 byte-order marks, as IIS does
    $text = [IO.File]::ReadAllText($Path)
    $settings = New-Object Xml.XmlReaderSettings
    $settings.DtdProcessing = [Xml.DtdProcessing]::Prohibit
    $settings.XmlResolver = $null
    $reader = [Xml.XmlReader]::Create((New-Object IO.StringReader $text), $settings)
    try {
        $doc = New-Object Xml.XmlDocument
        $doc.XmlResolver = $null
        $doc.Load($reader)
        , $doc
    } finally { $reader.Dispose() }
}

function Get-Masked([string]$Name, [string]$Value) {
    if ($Visible -contains $Name.ToUpperInvariant()) { return $Value }
    $Masked
}

function Get-Variables($Parent, [string]$Tag) {
    $out = [ordered]@{}
    if ($null -eq $Parent) { return $out }
    foreach ($el in @($Parent.SelectNodes($Tag))) {
        $name = $el.GetAttribute('name')
        if ($name) { $out[$name] = Get-Masked $name $el.GetAttribute('value') }
    }
    $out
}

function Get-Minutes($Value, $Default) {
    if (-not $Value) { return $Default }
    try { return ([TimeSpan]::Parse($Value, [Globalization.CultureInfo]::InvariantCulture)).TotalMinutes }
    catch { return $Default }
}

function Read-WebConfig([string]$Path) {
    $r = [ordered]@{
        exists = [IO.File]::Exists($Path); hosting_model = 'outofprocess'; hosting_model_set = $false
        environment_variables = [ordered]@{}; stdout_log_enabled = $false
        stdout_log_file = 'aspnetcore-stdout'; error = $null
    }
    try { $doc = Read-SafeXml $Path } catch {
        $r.error = "${Path}: " + $_.Exception.Message
        return $r
    }
    if ($null -eq $doc) { return $r }
    $anc = $doc.SelectSingleNode('/configuration/system.webServer/aspNetCore')
    if ($null -eq $anc) { $anc = $doc.SelectSingleNode('/configuration/location/system.webServer/aspNetCore') }
    if ($null -eq $anc) {
        $r.error = "$Path has no <aspNetCore> element"
        return $r
    }
    if ($anc.HasAttribute('hostingModel')) {
        $r.hosting_model_set = $true
        if ($anc.GetAttribute('hostingModel').Trim() -eq 'inprocess') { $r.hosting_model = 'inprocess' }
    }
    $r.environment_variables = Get-Variables $anc.SelectSingleNode('environmentVariables') 'environmentVariable'
    $r.stdout_log_enabled = ($anc.GetAttribute('stdoutLogEnabled').Trim() -eq 'true')
    if ($anc.GetAttribute('stdoutLogFile')) { $r.stdout_log_file = $anc.GetAttribute('stdoutLogFile') }
    $r
}

function Get-PoolAttribute($Entry, $Defaults, [string]$Child, [string]$Name) {
    foreach ($source in @($Entry, $Defaults)) {
        if ($null -eq $source) { continue }
        $el = $source.SelectSingleNode($Child)
        if ($null -ne $el -and $el.HasAttribute($Name)) { return $el.GetAttribute($Name) }
    }
    $null
}

function Read-AppPool([string]$Pool) {
    $r = [ordered]@{
        name = $Pool; found = $false; site = $null; identity_type = 'ApplicationPoolIdentity'
        user_name = $null; rapid_fail_protection = $true; rapid_fail_max_crashes = 5
        rapid_fail_interval_minutes = 5.0; periodic_restart_minutes = 1740.0
        environment_variables = [ordered]@{}; error = $null
    }
    try { $doc = Read-SafeXml $AppHostConfig } catch {
        $r.error = "${AppHostConfig}: " + $_.Exception.Message
        return $r
    }
    if ($null -eq $doc) {
        $r.error = "$AppHostConfig does not exist (is IIS installed?)"
        return $r
    }
    $pools = $doc.SelectSingleNode('/configuration/system.applicationHost/applicationPools')
    $entry = $null
    if ($null -ne $pools) {
        foreach ($e in @($pools.SelectNodes('add'))) {
            if ($e.GetAttribute('name') -eq $Pool) { $entry = $e; break }
        }
    }
    if ($null -eq $entry) {
        $r.error = "application pool '$Pool' is not defined in $AppHostConfig"
        return $r
    }
    $defaults = $pools.SelectSingleNode('applicationPoolDefaults')
    $r.found = $true
    $r.name = $entry.GetAttribute('name')
    $sites = $doc.SelectSingleNode('/configuration/system.applicationHost/sites')
    if ($null -ne $sites) {
        $defaultPool = $null
        $appDefaults = $sites.SelectSingleNode('applicationDefaults')
        if ($null -ne $appDefaults) { $defaultPool = $appDefaults.GetAttribute('applicationPool') }
        foreach ($site in @($sites.SelectNodes('site'))) {
            foreach ($app in @($site.SelectNodes('application'))) {
                $name = $app.GetAttribute('applicationPool')
                if (-not $name) { $name = $defaultPool }
                if ($name -eq $Pool -and $null -eq $r.site) { $r.site = $site.GetAttribute('name') }
            }
        }
    }
    $identity = Get-PoolAttribute $entry $defaults 'processModel' 'identityType'
    if ($identity) { $r.identity_type = $identity }
    $r.user_name = Get-PoolAttribute $entry $defaults 'processModel' 'userName'
    $rapid = Get-PoolAttribute $entry $defaults 'failure' 'rapidFailProtection'
    if ($rapid) { $r.rapid_fail_protection = ($rapid.Trim() -eq 'true') }
    $crashes = Get-PoolAttribute $entry $defaults 'failure' 'rapidFailProtectionMaxCrashes'
    if ($crashes -match '^\d+$') { $r.rapid_fail_max_crashes = [int]$crashes }
    $r.rapid_fail_interval_minutes = Get-Minutes (Get-PoolAttribute $entry $defaults 'failure' 'rapidFailProtectionInterval') 5.0
    $restart = Get-PoolAttribute $entry $defaults 'recycling/periodicRestart' 'time'
    $minutes = Get-Minutes $restart 1740.0
    if ($minutes -eq 0) { $minutes = $null }
    $r.periodic_restart_minutes = $minutes
    $r.environment_variables = Get-Variables $entry.SelectSingleNode('environmentVariables') 'add'
    $r
}

function Get-MachineEnvironment {
    $out = [ordered]@{}
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SYSTEM\CurrentControlSet\Control\Session Manager\Environment')
    try {
        foreach ($name in $Visible) {
            $value = $null
            if ($null -ne $key) { $value = $key.GetValue($name, $null) }
            if ($null -ne $value) { $value = [string]$value }
            $out[$name] = $value
        }
    } finally { if ($null -ne $key) { $key.Dispose() } }
    $out
}

function Get-IdentitySids([string]$IdentityType, $UserName, [string]$Pool) {
    # the identity itself, and the groups every such account belongs to on this host
    $sids = New-Object System.Collections.ArrayList
    foreach ($group in @('S-1-1-0', 'S-1-5-11', 'S-1-5-32-545', 'S-1-5-32-568')) { $null = $sids.Add($group) }
    $account = $null
    switch ($IdentityType) {
        'LocalSystem' { $null = $sids.Add('S-1-5-18'); $null = $sids.Add('S-1-5-32-544') }
        'NetworkService' { $null = $sids.Add('S-1-5-20') }
        'LocalService' { $null = $sids.Add('S-1-5-19') }
        'SpecificUser' { $account = [string]$UserName }
        default { $account = 'IIS AppPool\' + $Pool }
    }
    if ($account) {
        try {
            $nt = New-Object Security.Principal.NTAccount $account
            $null = $sids.Add($nt.Translate([Security.Principal.SecurityIdentifier]).Value)
        } catch {
            # an account Windows cannot resolve has no rights of its own
        }
    }
    , $sids
}

function Test-DirectoryAccess([string]$Role, [string]$Path, $Sids) {
    $r = [ordered]@{ role = $Role; path = $Path; exists = [IO.Directory]::Exists($Path); checked = $Path; pool_can_write = $null; error = $null }
    # NLog creates a missing directory: then the right on the nearest existing parent counts
    $dir = $Path
    while (-not [IO.Directory]::Exists($dir)) {
        $parent = [IO.Path]::GetDirectoryName($dir)
        if (-not $parent -or $parent -eq $dir) { break }
        $dir = $parent
    }
    $r.checked = $dir
    try {
        $acl = [IO.Directory]::GetAccessControl($dir)
        $rules = $acl.GetAccessRules($true, $true, [Security.Principal.SecurityIdentifier])
        $need = [int][Security.AccessControl.FileSystemRights]::CreateFiles
        $allowed = $false
        foreach ($rule in $rules) {
            if ($Sids -notcontains $rule.IdentityReference.Value) { continue }
            if (([int]$rule.FileSystemRights -band $need) -ne $need) { continue }
            if ($rule.AccessControlType -eq [Security.AccessControl.AccessControlType]::Deny) {
                $allowed = $false
                break
            }
            $allowed = $true
        }
        $r.pool_can_write = $allowed
    } catch {
        $r.error = "ACL of ${dir} unreadable: " + $_.Exception.Message
    }
    $r
}

function Get-HostFacts($P) {
    foreach ($name in @($P.PSObject.Properties | ForEach-Object { $_.Name })) {
        if (@('install_dir', 'pool', 'log_dir') -cnotcontains $name) { Fail 'bad_params' "unknown host parameter '$name'" }
    }
    if (-not (Test-PlainPath $P.install_dir)) {
        Fail 'bad_params' "parameter 'install_dir' must be an absolute, normalised local Windows path"
    }
    $installDir = ([string]$P.install_dir).TrimEnd([char[]]@('\'))
    $pool = $P.pool
    if ($pool -isnot [string] -or $pool.Length -eq 0 -or $pool -match '["\x00-\x1f]') {
        Fail 'bad_params' "parameter 'pool' must be an application pool name"
    }
    $logDir = $null
    if ($null -ne $P.log_dir) {
        if (-not (Test-PlainPath $P.log_dir)) {
            Fail 'bad_params' "parameter 'log_dir' must be an absolute, normalised local Windows path"
        }
        $logDir = ([string]$P.log_dir).TrimEnd([char[]]@('\'))
    }
    $webPath = [IO.Path]::Combine($installDir, 'web.config')
    $offline = [IO.Path]::Combine($installDir, 'app_offline.htm')
    $poolInfo = Read-AppPool $pool
    $sids = Get-IdentitySids $poolInfo.identity_type $poolInfo.user_name $pool
    $directories = New-Object System.Collections.ArrayList
    $null = $directories.Add((Test-DirectoryAccess 'install' $installDir $sids))
    if ($null -ne $logDir) { $null = $directories.Add((Test-DirectoryAccess 'log' $logDir $sids)) }
    $warnings = New-Object System.Collections.ArrayList
    if ($poolInfo.error) { $null = $warnings.Add($poolInfo.error) }
    $offlineSize = $null
    if ([IO.File]::Exists($offline)) { $offlineSize = (New-Object IO.FileInfo $offline).Length }
    [ordered]@{
        install_dir         = $installDir
        web_config          = (Read-WebConfig $webPath)
        app_pool            = $poolInfo
        machine_environment = (Get-MachineEnvironment)
        app_offline         = [ordered]@{ exists = [IO.File]::Exists($offline); size = $offlineSize }
        directories         = @($directories)
        warnings            = @($warnings)
    }
}
