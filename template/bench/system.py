"""What the benchmark asks of the operating system: limits, memory and CPU of processes,
and stopping the servers it started."""

import os
import resource
import signal
import subprocess
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def raise_fd_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


def rss_kib(pid: int) -> int:
    """The resident memory of process `pid` (VmRSS in /proc/<pid>/status), in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time that process `pid` has used (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name, in parentheses, may hold spaces: split after its closing one.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def stop(process: subprocess.Popen[Any], how: signal.Signals, within: float) -> None:
    """Ask `process` to stop with signal `how`; kill it if it has not after `within` s."""
    if process.poll() is None:
        process.send_signal(how)
    try:
        process.wait(within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
