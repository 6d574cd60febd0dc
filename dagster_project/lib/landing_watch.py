"""What the landing-zone sensor looks at: a fingerprint of the files present."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dagster_project.lib.landing_contract import LANDING_TABLES, landing_files


def landing_fingerprint(landing_dir: Path) -> tuple[str, int]:
    """A digest of every landing file's path, size and modification time, and the file count.

    A new daily drop, a replaced file or a removed one changes the digest; the same files give
    the same digest, so a sensor that remembers it never asks twice for the same state.
    """
    digest = hashlib.sha256()
    count = 0
    for table in sorted(LANDING_TABLES):
        for path in landing_files(landing_dir, table):
            stat = path.stat()
            digest.update(f"{table}/{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            count += 1
    return digest.hexdigest()[:16], count
