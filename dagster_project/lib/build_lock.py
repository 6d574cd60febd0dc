"""One writer at a time for the internal build database.

DuckDB allows a single read-write process per file. Dagster pools serialise steps inside one
Dagster instance, but a `segmentwerk run` from a terminal and a run launched in the UI are two
processes that know nothing of each other. An advisory `flock` on a lock file beside the build
database is the one guarantee that holds across all of them; a second writer waits for it and
says so instead of failing on DuckDB's "Conflicting lock" error.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class BuildLockTimeout(RuntimeError):
    pass


@contextmanager
def build_writer_lock(
    lock_path: Path,
    *,
    timeout_s: float = 3600.0,
    poll_s: float = 0.5,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced and on_wait is not None:
                    on_wait(f"waiting for another writer to release {lock_path}")
                    announced = True
                if time.monotonic() > deadline:
                    raise BuildLockTimeout(
                        f"another process has held {lock_path} for over {timeout_s:.0f} s"
                    ) from None
                time.sleep(poll_s)
        # The holder's pid helps whoever waits to find the other writer.
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        # Closing the descriptor releases the lock, also when the process is killed.
        os.close(fd)
