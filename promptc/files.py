"""Writing files safely: whole or not at all, never through a link, FIFO or device."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from promptc.config.paths import refuse_special_file


def atomic_write(path: Path, text: str) -> None:
    """Write a file via a temporary file and rename, so readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_special_file(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # O_EXCL and O_NOFOLLOW: the temp file is always new, never a link; mode 0o666 lets the
    # umask decide who may read it, as for any file the user creates.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
