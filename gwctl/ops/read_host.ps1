# gwctl-operation: read_host
#
# What decides what the gateway really runs, read in one round trip: web.config's
# aspNetCore element, the app pool (and its site) in applicationHost.config, the
# machine's ASPNETCORE_ENVIRONMENT/DOTNET_ENVIRONMENT, app_offline.htm, and whether the
# pool identity can create files in the install and log directories. Read-only.
# params:  install_dir (absolute Windows path), pool (app pool name),
#          log_dir (absolute Windows path, or null/missing)
# result:  {install_dir, web_config: {exists, hosting_model, hosting_model_set,
#          environment_variables, stdout_log_enabled, stdout_log_file, error},
#          app_pool: {name, found, site, site_id, site_log_dir, site_log_format,
#          site_log_enabled, identity_type, user_name, rapid_fail_protection,
#          rapid_fail_max_crashes, rapid_fail_interval_minutes, periodic_restart_minutes,
#          environment_variables, error}, machine_environment: {ASPNETCORE_ENVIRONMENT,
#          DOTNET_ENVIRONMENT}, app_offline: {exists, size}, directories: [{role, path,
#          exists, checked, pool_can_write, error}], warnings: [text]}
# errors:  bad_params
# Environment variable values other than ASPNETCORE_ENVIRONMENT and DOTNET_ENVIRONMENT
# are returned as "(masked)": they often hold connection strings. Both XML files are
# read with DtdProcessing = Prohibit and no resolver, whatever their encoding (BOM).
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1
# gwctl-include: hostfacts.ps1

Assert-Params @('install_dir', 'pool', 'log_dir') @('install_dir', 'pool')
Get-HostFacts $Params
