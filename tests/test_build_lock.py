"""The build database's writer lock holds across processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from dagster_project.lib.build_lock import BuildLockTimeout, build_writer_lock

HOLDER = """
import sys, time
from pathlib import Path
from dagster_project.lib.build_lock import build_writer_lock
with build_writer_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    lock = tmp_path / "build.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock), "1.5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        waits: list[str] = []
        started = time.monotonic()
        with build_writer_lock(lock, poll_s=0.05, on_wait=waits.append):
            waited = time.monotonic() - started
        assert waits and "waiting for another writer" in waits[0]
        assert waited > 0.5
    finally:
        holder.wait(timeout=10)


def test_a_writer_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    lock = tmp_path / "build.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock), "3"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with (
            pytest.raises(BuildLockTimeout, match="held"),
            build_writer_lock(lock, timeout_s=0.3, poll_s=0.05),
        ):
            pass
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "build.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock), "60"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    holder.kill()  # SIGKILL: no clean-up code runs
    holder.wait(timeout=10)
    with build_writer_lock(lock, timeout_s=2):
        pass
