# gwctl-operation: bootstrap
# Runs one operation (docs/remote-operations.md). stdin: a JSON header line {op, script,
# params}, then the payload as base64 lines. Prints one "GWCTL-RESULT <json>" line in
# ASCII, so no code page can mangle it. Exit 0: ok, 1: failed.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# PS 5.1 type data makes ConvertTo-Json write some arrays as {value, Count}
try { Remove-TypeData System.Array } catch { }
$u = New-Object Text.UTF8Encoding $false
try { [Console]::OutputEncoding = $u } catch { }
# JEA (docs/jea.md): only scripts the policy lists
function Assert-Allowed($Op, [byte[]]$S) {
    $f = "$env:ProgramFiles\WindowsPowerShell\Modules\GwctlOperations\GwctlOperations.policy.json"
    if (-not [IO.File]::Exists($f)) { return }
    $x = -join ([Security.Cryptography.SHA256]::Create().ComputeHash($S) | % { $_.ToString('x2') })
    if ((gc -Raw $f | ConvertFrom-Json).scripts.$Op -cne $x) {
        throw @{ gwctl_code = 'unknown_script'; message = "the script sent for '$Op' is not in this host's gwctl allowlist (sha256 $x)" }
    }
}
$r = [ordered]@{ ok = $false }
try {
    # stdin is ASCII (\u-escaped JSON, base64): $input's code page cannot matter
    $lines = @($input)
    $h = $lines[0] | ConvertFrom-Json
    $b = [Convert]::FromBase64String((@($lines | Select-Object -Skip 1) -join '') -replace '\s', '')
    $sb = [Convert]::FromBase64String($h.script)
    Assert-Allowed $h.op $sb
    $s = [ScriptBlock]::Create($u.GetString($sb))
    $o = @(& $s $h.params $b)
    $r.ok = $true
    $r.result = $o[-1]
} catch {
    $t = $_.TargetObject
    if ($t -is [Collections.IDictionary] -and $t.Contains('gwctl_code')) {
        $r.code = $t.gwctl_code; $r.message = $t.message; $r.detail = $t.detail
    } else {
        $e = $_.Exception
        while ($e.InnerException) { $e = $e.InnerException }
        $r.code = 'failed'
        if ($e -is [IO.IOException] -or $e -is [UnauthorizedAccessException]) { $r.code = 'io_error' }
        $r.message = $e.Message
        $r.detail = @{ type = $e.GetType().FullName }
    }
}
$j = ConvertTo-Json -InputObject $r -Depth 20 -Compress
$j = [regex]::Replace($j, '[^\x20-\x7e]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })
[Console]::Out.Write('GWCTL-RESULT ' + $j + "`r`n")
[Console]::Out.Flush()
if ($r.ok) { exit 0 }
exit 1
