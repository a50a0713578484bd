"""Replacing a file so that a power cut leaves the old one or the new one, never half of each.

The one writer for the probe's small state files (the audio reference, the
``now.json`` that ``roomprobe doctor`` reads) and for what first boot takes
from the card.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o644, sync: bool = True) -> None:
    """Write beside ``path``, then rename over it; with ``sync``, reach the disk first.

    ``sync=False`` suits files rewritten often whose loss costs nothing (fewer
    writes to an SD card); the rename alone still never leaves half a file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)  # whatever the umask took away
    os.replace(tmp, path)
    if sync:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself
        finally:
            os.close(dir_fd)
