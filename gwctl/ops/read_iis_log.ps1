# gwctl-operation: read_iis_log
#
# The newest request log of an IIS site's log folder (read_host's app_pool.site_log_dir,
# <logFile directory>\W3SVC<id>), bounded: its first bytes (the W3C directives, #Fields
# among them) and its last max_bytes bytes, never more. Reads only; the file is opened
# sharing read and write, as IIS keeps writing it.
# params:  log_dir (absolute Windows path), max_bytes (4096..4194304)
# result:  {log_dir, exists, file, size, mtime, head_b64, tail_offset, tail_b64}: head is
#          the first min(size, 4096) bytes, tail the bytes from tail_offset (at least the
#          head's end) to the end; file and the rest null when the folder has no *.log
# errors:  bad_params, io_error
param($Params, [byte[]]$Payload)

# gwctl-include: common.ps1

function Read-Range($Stream, [long]$Offset, [int]$Count) {
    $buffer = New-Object byte[] $Count
    $null = $Stream.Seek($Offset, [IO.SeekOrigin]::Begin)
    $done = 0
    while ($done -lt $Count) {
        $n = $Stream.Read($buffer, $done, $Count - $done)
        if ($n -le 0) { break }
        $done += $n
    }
    [Convert]::ToBase64String($buffer, 0, $done)
}

Assert-Params @('log_dir', 'max_bytes') @('log_dir', 'max_bytes')
$dir = (Get-WinPath 'log_dir').TrimEnd([char[]]@('\'))
$max = $Params.max_bytes
if (($max -isnot [int] -and $max -isnot [long]) -or $max -lt 4096 -or $max -gt 4194304) {
    Fail 'bad_params' "read_iis_log: parameter 'max_bytes' must be an integer in 4096..4194304"
}
$result = [ordered]@{ log_dir = $dir; exists = [IO.Directory]::Exists($dir); file = $null; size = $null
    mtime = $null; head_b64 = $null; tail_offset = $null; tail_b64 = $null }
if ($result.exists) {
    # GetFiles' three-letter extension pattern also matches longer ones: -like is exact
    $logs = @((New-Object IO.DirectoryInfo $dir).GetFiles('*.log') | Where-Object { $_.Name -like '*.log' })
    # IIS starts a new file per period; the newest written is the one it writes now
    $newest = $logs | Sort-Object -Property @{ Expression = 'LastWriteTimeUtc'; Descending = $true }, @{ Expression = 'Name'; Descending = $true } | Select-Object -First 1
    if ($null -ne $newest) {
        try {
            $stream = [IO.File]::Open($newest.FullName, [IO.FileMode]::Open, [IO.FileAccess]::Read, [IO.FileShare]::ReadWrite)
        } catch [System.Exception] {
            Fail 'io_error' "read_iis_log: $($newest.FullName): $($_.Exception.Message)"
        }
        try {
            $size = $stream.Length
            $head = [int][Math]::Min($size, 4096)
            $from = [long][Math]::Max($head, $size - [long]$max)
            $result.file = $newest.FullName
            $result.size = $size
            $result.mtime = (Format-Utc $newest.LastWriteTimeUtc)
            $result.head_b64 = (Read-Range $stream 0 $head)
            $result.tail_offset = $from
            $result.tail_b64 = (Read-Range $stream $from ([int]($size - $from)))
        } finally {
            $stream.Dispose()
        }
    }
}
$result
