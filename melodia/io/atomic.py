"""Write files whole or not at all: a temp file beside the target, then a rename."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from melodia.errors import WriteError


def _file_mode() -> int:
    """What `open()` would give a new file: 0o666 less the umask (mkstemp gives 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()
OWNER = f"{socket.gethostname().replace('.', '_')}-{os.getpid()}"  # in temp names: who is writing


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = True) -> Path:
    """Write `data` to `path` so that readers see the old file or the new one, never a torn one.

    Raises:
        WriteError: when `path` exists and `overwrite` is false, or the write fails.
    """
    target = Path(path)
    if not overwrite:
        refuse_overwrite(target)
    make_folder(target.parent)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.{OWNER}.", suffix=".part", dir=target.parent)
    try:
        os.chmod(temp_name, FILE_MODE)
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(data)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.replace(temp_name, target)
    except OSError as error:
        Path(temp_name).unlink(missing_ok=True)
        raise WriteError(f"{target}: could not write ({error.strerror or error})") from error
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, *, overwrite: bool = True) -> Path:
    """`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def refuse_overwrite(path: str | os.PathLike[str]) -> None:
    """Raise `WriteError` when `path` exists: checked before work starts, not after."""
    if Path(path).exists():
        raise WriteError(f"{path}: already exists (pass --force to overwrite)")


def check_folder(folder: str | os.PathLike[str]) -> None:
    """Raise `WriteError` when a file stands where `folder`, or a folder above it, would be:
    checked before work starts, so that the outputs have somewhere to go."""
    folder = Path(folder)
    for place in (folder, *folder.parents):
        if place.exists() and not place.is_dir():
            inside = "" if place == folder else f" to hold {folder}"
            raise WriteError(f"{place}: is a file, not a folder{inside}; name a new or existing folder")


def make_folder(folder: str | os.PathLike[str]) -> Path:
    """Make `folder` and the folders above it, as `mkdir -p` does.

    Raises:
        WriteError: a file is in the way, or the folder cannot be made.
    """
    folder = Path(folder)
    check_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteError(f"{folder}: could not make this folder ({error.strerror or error})") from error
    return folder


def remove_stale_parts(folder: str | os.PathLike[str], older_than_seconds: float = 600.0) -> int:
    """Delete temp files that killed writers left in `folder`: those of a process of this host
    that is gone, and any older than a live write could be. Returns how many went."""
    import time

    host = socket.gethostname().replace(".", "_")
    removed = 0
    for part in Path(folder).glob(".*.part"):
        owner = part.name.rsplit(".", 3)[-3] if part.name.count(".") >= 4 else ""
        owner_host, _, pid = owner.rpartition("-")
        try:
            gone = owner_host == host and pid.isdigit() and not _alive(int(pid))
            if gone or time.time() - part.stat().st_mtime > older_than_seconds:
                part.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _alive(pid: int) -> bool:
    """Whether process `pid` still runs here (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]
