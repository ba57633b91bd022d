# gwctl-operation: bootstrap
# Runs one operation, or a batch of them in order up to the first failure
# (docs/remote-operations.md). Output is ASCII: no code page can mangle it.
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
# one script: its base64 text (or a script block), params, payload at $b[$i..$i+$n), op
function Invoke-Op($k, $p, $i, $n, $q) {
    $r = [ordered]@{ ok = $false }
    try {
        if ($k -isnot [ScriptBlock]) {
            $s = [Convert]::FromBase64String($k)
            Assert-Allowed $q $s
            $k = [ScriptBlock]::Create($u.GetString($s))
        }
        $o = @(& $k $p ([Convert]::FromBase64String($b.Substring($i, $n))))
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
    $r
}
# stdin is ASCII (\u-escaped JSON, base64): $input's code page cannot matter
$l = @($input)
$b = (@($l | Select-Object -Skip 1) -join '') -replace '\s', ''
$r = Invoke-Op { $args[0] | ConvertFrom-Json } $l[0] 0 0
$h = $r.result
if ($r.ok -and $null -ne $h.batch) {
    # each step's payload is the next payload_chars base64 characters
    $r = [ordered]@{ ok = $true; steps = New-Object Collections.ArrayList; not_run = @() }
    $i = 0
    foreach ($x in $h.batch) {
        if ($r.ok) {
            $y = Invoke-Op $h.scripts.($x.op) $x.params $i $x.payload_chars $x.op
            [void]$r.steps.Add($y)
            $r.ok = $y.ok
        } else { $r.not_run += $x.op }
        $i += $x.payload_chars
    }
} elseif ($r.ok) { $r = Invoke-Op $h.script $h.params 0 $b.Length $h.op }
$j = ConvertTo-Json -InputObject $r -Depth 20 -Compress
$j = [regex]::Replace($j, '[^\x20-\x7e]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })
[Console]::Out.Write('GWCTL-RESULT ' + $j + "`r`n")
[Console]::Out.Flush()
if ($r.ok) { exit 0 }
exit 1
