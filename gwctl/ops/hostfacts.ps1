# gwctl-library: hostfacts
#
# read_host's result; stat includes it (its "host" parameter). Kept small: stat's stdin
# must fit one WinRM Send chunk (tests/test_host_facts.py).

$AppHost = 'C:\Windows\System32\inetsrv\config\applicationHost.config'
$Visible = @('ASPNETCORE_ENVIRONMENT', 'DOTNET_ENVIRONMENT')

function Read-SafeXml([string]$Path) {
  if (-not [IO.File]::Exists($Path)) { return $null }
  $s = New-Object Xml.XmlReaderSettings
  $s.DtdProcessing = [Xml.DtdProcessing]::Prohibit
  $s.XmlResolver = $null
  $r = [Xml.XmlReader]::Create((New-Object IO.StringReader ([IO.File]::ReadAllText($Path))), $s)
  try { $d = New-Object Xml.XmlDocument; $d.XmlResolver = $null; $d.Load($r); , $d } finally { $r.Dispose() }
}

function Get-Vars($Parent, [string]$Tag) {
  $out = [ordered]@{}
  if ($null -eq $Parent) { return $out }
  foreach ($e in @($Parent.SelectNodes($Tag))) {
    $n = $e.GetAttribute('name')
    if (-not $n) { continue }
    if ($Visible -contains $n.ToUpperInvariant()) { $out[$n] = $e.GetAttribute('value') } else { $out[$n] = '(masked)' }
  }
  $out
}

function Get-Minutes($Value, $Default) {
  try { if ($Value) { return ([TimeSpan]::Parse($Value, [Globalization.CultureInfo]::InvariantCulture)).TotalMinutes } } catch { }
  $Default
}

function Read-WebConfig([string]$Path) {
  $r = [ordered]@{ exists = [IO.File]::Exists($Path); hosting_model = 'outofprocess'; hosting_model_set = $false
    environment_variables = [ordered]@{}; stdout_log_enabled = $false; stdout_log_file = 'aspnetcore-stdout'; error = $null }
  try { $doc = Read-SafeXml $Path } catch { $r.error = "${Path}: " + $_.Exception.Message; return $r }
  if ($null -eq $doc) { return $r }
  $a = $doc.SelectSingleNode('/configuration/system.webServer/aspNetCore')
  if ($null -eq $a) { $a = $doc.SelectSingleNode('/configuration/location/system.webServer/aspNetCore') }
  if ($null -eq $a) { $r.error = "$Path has no <aspNetCore> element"; return $r }
  if ($a.HasAttribute('hostingModel')) {
    $r.hosting_model_set = $true
    if ($a.GetAttribute('hostingModel').Trim() -eq 'inprocess') { $r.hosting_model = 'inprocess' }
  }
  $r.environment_variables = Get-Vars $a.SelectSingleNode('environmentVariables') 'environmentVariable'
  $r.stdout_log_enabled = ($a.GetAttribute('stdoutLogEnabled').Trim() -eq 'true')
  if ($a.GetAttribute('stdoutLogFile')) { $r.stdout_log_file = $a.GetAttribute('stdoutLogFile') }
  $r
}

function Get-PoolAttr($Entry, $Defaults, [string]$Child, [string]$Name) {
  foreach ($src in @($Entry, $Defaults)) {
    if ($null -eq $src) { continue }
    $e = $src.SelectSingleNode($Child)
    if ($null -ne $e -and $e.HasAttribute($Name)) { return $e.GetAttribute($Name) }
  }
  $null
}

# the site's W3C log folder: <logFile directory>\W3SVC<id>, the site's attributes over siteDefaults'
function Add-SiteLog($R, $Site, $Sites) {
  $dir = '%SystemDrive%\inetpub\logs\LogFiles'
  if ($Site.GetAttribute('id') -match '^\d+$') { $R.site_id = [long]$Site.GetAttribute('id') }
  foreach ($e in @($Sites.SelectSingleNode('siteDefaults/logFile'), $Site.SelectSingleNode('logFile'))) {
    if ($null -eq $e) { continue }
    if ($e.HasAttribute('directory')) { $dir = $e.GetAttribute('directory') }
    if ($e.HasAttribute('logFormat')) { $R.site_log_format = $e.GetAttribute('logFormat') }
    if ($e.HasAttribute('enabled')) { $R.site_log_enabled = ($e.GetAttribute('enabled').Trim() -eq 'true') }
  }
  if ($null -ne $R.site_id) { $R.site_log_dir = [Environment]::ExpandEnvironmentVariables($dir).TrimEnd('\') + '\W3SVC' + $R.site_id }
}

function Read-AppPool([string]$Pool) {
  $r = [ordered]@{ name = $Pool; found = $false; site = $null; site_id = $null; site_log_dir = $null; site_log_format = 'W3C'; site_log_enabled = $true; identity_type = 'ApplicationPoolIdentity'; user_name = $null
    rapid_fail_protection = $true; rapid_fail_max_crashes = 5; rapid_fail_interval_minutes = 5.0
    periodic_restart_minutes = 1740.0; environment_variables = [ordered]@{}; error = $null }
  try { $doc = Read-SafeXml $AppHost } catch { $r.error = "${AppHost}: " + $_.Exception.Message; return $r }
  if ($null -eq $doc) { $r.error = "$AppHost does not exist (is IIS installed?)"; return $r }
  $pools = $doc.SelectSingleNode('/configuration/system.applicationHost/applicationPools')
  $entry = $null
  if ($null -ne $pools) { $entry = @($pools.SelectNodes('add') | Where-Object { $_.GetAttribute('name') -eq $Pool })[0] }
  if ($null -eq $entry) { $r.error = "application pool '$Pool' is not defined in $AppHost"; return $r }
  $defaults = $pools.SelectSingleNode('applicationPoolDefaults')
  $r.found = $true
  $r.name = $entry.GetAttribute('name')
  $sites = $doc.SelectSingleNode('/configuration/system.applicationHost/sites')
  if ($null -ne $sites) {
    foreach ($site in @($sites.SelectNodes('site'))) {
      foreach ($app in @($site.SelectNodes('application'))) {
        if ($app.GetAttribute('applicationPool') -eq $Pool -and $null -eq $r.site) { $r.site = $site.GetAttribute('name'); $found = $site }
      }
    }
  }
  if ($null -ne $r.site) { Add-SiteLog $r $found $sites }
  $v = Get-PoolAttr $entry $defaults 'processModel' 'identityType'
  if ($v) { $r.identity_type = $v }
  $r.user_name = Get-PoolAttr $entry $defaults 'processModel' 'userName'
  $v = Get-PoolAttr $entry $defaults 'failure' 'rapidFailProtection'
  if ($v) { $r.rapid_fail_protection = ($v.Trim() -eq 'true') }
  $v = Get-PoolAttr $entry $defaults 'failure' 'rapidFailProtectionMaxCrashes'
  if ($v -match '^\d+$') { $r.rapid_fail_max_crashes = [int]$v }
  $r.rapid_fail_interval_minutes = Get-Minutes (Get-PoolAttr $entry $defaults 'failure' 'rapidFailProtectionInterval') 5.0
  $m = Get-Minutes (Get-PoolAttr $entry $defaults 'recycling/periodicRestart' 'time') 1740.0
  if ($m -eq 0) { $m = $null }
  $r.periodic_restart_minutes = $m
  $r.environment_variables = Get-Vars $entry.SelectSingleNode('environmentVariables') 'add'
  $r
}

function Get-MachineEnvironment {
  $o = [ordered]@{}
  $k = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SYSTEM\CurrentControlSet\Control\Session Manager\Environment')
  foreach ($n in $Visible) { $o[$n] = $null; if ($k -and $null -ne $k.GetValue($n)) { $o[$n] = [string]$k.GetValue($n) } }
  if ($k) { $k.Dispose() }
  $o
}

function Get-IdentitySids([string]$Type, $User, [string]$Pool) {
  # + Everyone, Authenticated Users, Users, IIS_IUSRS
  $sids = New-Object System.Collections.ArrayList
  foreach ($g in @('S-1-1-0', 'S-1-5-11', 'S-1-5-32-545', 'S-1-5-32-568')) { $null = $sids.Add($g) }
  $account = $null
  switch ($Type) {
    'LocalSystem' { $null = $sids.Add('S-1-5-18'); $null = $sids.Add('S-1-5-32-544') }
    'NetworkService' { $null = $sids.Add('S-1-5-20') }
    'LocalService' { $null = $sids.Add('S-1-5-19') }
    'SpecificUser' { $account = [string]$User }
    default { $account = 'IIS AppPool\' + $Pool }
  }
  if ($account) {
    try { $null = $sids.Add((New-Object Security.Principal.NTAccount $account).Translate([Security.Principal.SecurityIdentifier]).Value) } catch { }
  }
  , $sids
}

function Test-DirectoryAccess([string]$Role, [string]$Path, $Sids) {
  $r = [ordered]@{ role = $Role; path = $Path; exists = [IO.Directory]::Exists($Path); checked = $Path; pool_can_write = $null; error = $null }
  # NLog creates a missing directory: its nearest existing parent decides
  $dir = $Path
  while (-not [IO.Directory]::Exists($dir)) {
    $up = [IO.Path]::GetDirectoryName($dir)
    if (-not $up -or $up -eq $dir) { break }
    $dir = $up
  }
  $r.checked = $dir
  try {
    $need = [int][Security.AccessControl.FileSystemRights]::CreateFiles
    $ok = $false
    foreach ($rule in [IO.Directory]::GetAccessControl($dir).GetAccessRules($true, $true, [Security.Principal.SecurityIdentifier])) {
      if ($Sids -notcontains $rule.IdentityReference.Value -or ([int]$rule.FileSystemRights -band $need) -ne $need) { continue }
      if ([string]$rule.AccessControlType -eq 'Deny') { $ok = $false; break }
      $ok = $true
    }
    $r.pool_can_write = $ok
  } catch { $r.error = "ACL of ${dir} unreadable: " + $_.Exception.Message }
  $r
}

function Get-HostFacts($P) {
  foreach ($n in @($P.PSObject.Properties | ForEach-Object { $_.Name })) {
    if (@('install_dir', 'pool', 'log_dir') -cnotcontains $n) { Fail 'bad_params' "unknown host parameter '$n'" }
  }
  foreach ($n in @('install_dir', 'log_dir')) {
    if (($n -eq 'install_dir' -or $null -ne $P.$n) -and -not (Test-PlainPath $P.$n)) {
      Fail 'bad_params' "parameter '$n' must be an absolute, normalised Windows path"
    }
  }
  $pool = $P.pool
  if ($pool -isnot [string] -or $pool.Length -eq 0 -or $pool -match '["\x00-\x1f]') { Fail 'bad_params' "parameter 'pool' must be an application pool name" }
  $install = ([string]$P.install_dir).TrimEnd([char[]]@('\'))
  $info = Read-AppPool $pool
  $sids = Get-IdentitySids $info.identity_type $info.user_name $pool
  $dirs = @(Test-DirectoryAccess 'install' $install $sids)
  if ($null -ne $P.log_dir) { $dirs += , (Test-DirectoryAccess 'log' ([string]$P.log_dir).TrimEnd([char[]]@('\')) $sids) }
  $offline = [IO.Path]::Combine($install, 'app_offline.htm')
  $size = $null
  if ([IO.File]::Exists($offline)) { $size = (New-Object IO.FileInfo $offline).Length }
  [ordered]@{
    install_dir = $install; web_config = (Read-WebConfig ([IO.Path]::Combine($install, 'web.config')))
    app_pool = $info; machine_environment = (Get-MachineEnvironment)
    app_offline = [ordered]@{ exists = ($null -ne $size); size = $size }
    directories = $dirs; warnings = @(@($info.error) | Where-Object { $_ })
  }
}
