"""Where promptc writes, checked before any model call: no work is lost to a path it cannot write.

Missing folders are made when a file is written (files.atomic_write), so a path is writable
when its nearest existing ancestor is a folder promptc may write in. Every file promptc writes is
a new regular file renamed into place, so an output path that is a symbolic link, a FIFO, a
device or a socket is refused, never replaced or written through: `--json /dev/stdout` would
otherwise swap the link for a file, and a FIFO's reader would wait forever.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from promptc.errors import BadInput, ConfigError

if TYPE_CHECKING:  # a leaf module: files.atomic_write imports it
    from promptc.config.load import Config


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


def special_kind(path: Path) -> str | None:
    """What the path is when it exists as anything but a regular file or a folder, in words
    (a symbolic link, a FIFO, a device, a socket); None otherwise. Links are not followed."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISLNK(mode):
        try:
            return f"a symbolic link (to {os.readlink(path)})"
        except OSError:
            return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def check_output_file(option: str, path: Path) -> None:
    """Refuse an output path that is a link, FIFO, device or socket: promptc writes a new regular
    file and renames it into place, so it would replace the link or pipe, not write through it."""
    kind = special_kind(path)
    if kind is not None:
        raise BadInput(
            f"{option} {path}: is {kind}; promptc writes each output as a new regular file and "
            "never replaces or writes through links, pipes or devices",
            fix=f"pass a regular file path as {option} (e.g. report.json) and read or copy that file",
        )


def refuse_special_file(path: Path) -> None:
    """Raise FileExistsError when path is a link, FIFO, device or socket: atomic_write's last line,
    for a path that became one after the checks by option (its rename would replace it)."""
    kind = special_kind(path)
    if kind is not None:
        raise FileExistsError(errno.EEXIST, f"is {kind}, not a regular file", str(path))


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
    """Refuse report paths (by option) that cannot be written: a link, FIFO or device; a folder;
    a file or a read-only folder where the path's folders would be made. A verdict is never lost
    to a report that fails afterwards."""
    for option, path in paths.items():
        if path is None:
            continue
        check_output_file(option, path)
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
