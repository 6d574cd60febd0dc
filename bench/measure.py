"""Measure a subprocess tree: wall time, CPU time (user + system) and peak resident memory.

CPU comes from ``resource.getrusage(RUSAGE_CHILDREN)`` before and after (processes run one at a
time, so the difference is exactly this tree's CPU, grandchildren included once they are
waited for). Peak memory is the largest *sum* of RSS over the whole process tree seen while
polling ``/proc`` every 50 ms (psutil is not a dependency); ``max_single_rss_mb`` is the
kernel's exact high-water mark of the largest single process (``ru_maxrss``).
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measurement:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    max_single_rss_mb: float
    returncode: int
    stdout: str = ""
    stderr: str = ""
    samples: list[tuple[float, float]] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        return {
            "wall_s": round(self.wall_s, 2),
            "cpu_s": round(self.cpu_s, 2),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "max_single_rss_mb": round(self.max_single_rss_mb, 1),
        }


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: split after the last ')'
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree_rss_bytes(root: int) -> int:
    kids = _children_map()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except OSError:
            pass
        stack.extend(kids.get(pid, []))
    return total


def run_measured(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    interval: float = 0.05,
    timeout: float | None = None,
) -> Measurement:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not stop.is_set():
            rss = tree_rss_bytes(proc.pid)
            peak = max(peak, rss)
            samples.append((round(time.perf_counter() - start, 2), round(rss / 2**20, 1)))
            stop.wait(interval)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.perf_counter() - start
    stop.set()
    poller.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measurement(
        wall_s=wall,
        cpu_s=cpu,
        peak_rss_mb=peak / 2**20,
        max_single_rss_mb=after.ru_maxrss / 1024,  # KiB on Linux; a high-water mark
        returncode=proc.returncode,
        stdout=out,
        stderr=err,
        samples=samples[:: max(1, len(samples) // 200)],
    )
