"""Where promptc writes, checked before any model call: no work is lost to a path it cannot write.

Missing folders are made when a file is written (artifacts.atomic_write), so a path is writable
when its nearest existing ancestor is a folder promptc may write in.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from promptc.config import Config
from promptc.errors import BadInput, ConfigError


def _stat(path: Path) -> os.stat_result | None:
    """The path's stat, or None when it does not exist (yet)."""
    try:
        return path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None


def nearest_existing(path: Path) -> tuple[Path, os.stat_result | None]:
    """The path, or its nearest ancestor that exists, with its stat (None only past the root)."""
    probe, found = path, _stat(path)
    while found is None and probe != probe.parent:
        probe = probe.parent
        found = _stat(probe)
    return probe, found


def check_writable(config: Config, key: str) -> None:
    """Refuse an `artifacts` or `cache` location promptc could not write."""
    path = config.artifacts_dir if key == "artifacts" else config.cache_path
    fix = f"set {key}: in {config.path} to a path in a writable directory" + (
        " (or set PROMPTC_HOME)" if key == "cache" else ""
    )

    def refuse(what: str) -> ConfigError:
        return ConfigError(f"{config.path}: {key}: {what}", fix=fix)

    try:
        directory = path
        if key == "cache":
            directory = path.parent
            found = _stat(path)
            if found is not None and stat.S_ISDIR(found.st_mode):
                raise refuse(f"{path} is a directory, not the cache file")
            if found is not None and not os.access(path, os.W_OK):
                raise refuse(f"{path} is not writable")
        probe, found = nearest_existing(directory)
    except OSError as exc:
        raise refuse(f"{path}: {exc.strerror or exc}") from None
    if found is None or not stat.S_ISDIR(found.st_mode):
        raise refuse(f"{probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise refuse(f"{probe} is not writable")


def check_report_paths(paths: dict[str, Path | None]) -> None:
    """Refuse report paths (by option) that cannot be written: a folder; a file or a read-only
    folder where the path's folders would be made. A verdict is never lost to a report that
    fails afterwards."""
    for option, path in paths.items():
        if path is None:
            continue
        nearest, found = nearest_existing(path.parent if str(path.parent) else Path("."))
        if path.is_dir():
            problem = "is a folder"
        elif found is None or not stat.S_ISDIR(found.st_mode):
            problem = f"{nearest} is a file, not a folder"
        elif not os.access(nearest, os.W_OK | os.X_OK):
            problem = f"the folder {nearest} is not writable"
        else:
            continue
        raise BadInput(f"{option} {path}: {problem}", fix=f"pass a writable {option} path")
