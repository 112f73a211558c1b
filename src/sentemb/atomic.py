"""Atomic output: write a temporary beside the target, then swap it in, so a crash leaves old or new, complete.

Files are renamed over their target (one ``os.replace``). A folder cannot be renamed over a non-empty
folder, so on Linux the two are exchanged in one ``renameat2(RENAME_EXCHANGE)`` call and the old one,
now at the temporary name, is deleted afterwards. Where that call is missing (other systems, some
file systems) the old folder is first renamed aside to ``.NAME.old``, the new one renamed in, then the
old one deleted; a crash between the two renames leaves the old folder complete at ``.NAME.old``, and
:func:`recover` (run by every later write of the same target) puts it back.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2 = None  # resolved on first use; False where the C library has no renameat2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one system call; False where the system cannot."""
    global _renameat2
    if sys.platform != "linux":
        return False
    if _renameat2 is None:
        try:
            fn = ctypes.CDLL(None, use_errno=True).renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _renameat2 = fn
        except (AttributeError, OSError):
            _renameat2 = False
    if not _renameat2:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # the file system does not support the exchange
    raise OSError(err, os.strerror(err), str(b))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _aside(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def recover(path: str | os.PathLike) -> None:
    """Finish an interrupted folder swap: put the old folder back if the new one never arrived."""
    target = Path(path)
    aside = _aside(target)
    if aside.exists() and not target.exists():
        os.replace(aside, target)
    elif aside.exists():
        _remove(aside)


def replace_path(new: str | os.PathLike, target: str | os.PathLike, carry: Iterable[str] = ()) -> None:
    """Put ``new`` (a file or folder) at ``target`` in one step, replacing what was there.

    ``carry`` names entries of the old folder that move into the new one after the swap (e.g. checkpoints
    kept beside a published model); they are not part of the atomic step.
    """
    new, target = Path(new), Path(target)
    recover(target)
    if not (target.exists() or target.is_symlink()) or (new.is_file() and target.is_file()):
        os.replace(new, target)
        return
    if _exchange(new, target):
        old = new  # the old content now lives at the temporary name
    else:
        old = _aside(target)
        os.replace(target, old)
        try:
            os.replace(new, target)
        except BaseException:
            os.replace(old, target)
            raise
    for name in carry:
        if (old / name).exists() and not (target / name).exists():
            os.replace(old / name, target / name)
    _remove(old)


def temporary_path(target: str | os.PathLike) -> Path:
    """A fresh, unused hidden name beside ``target`` (nothing is created there)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, carry: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; put it at ``path`` on success (see :func:`replace_path`).

    Works for files and folders; on error the temporary is removed and ``path`` is untouched.
    """
    target = Path(path)
    tmp_path = temporary_path(target)
    try:
        yield tmp_path
        replace_path(tmp_path, target, carry)
    finally:
        if tmp_path.exists() or tmp_path.is_symlink():
            _remove(tmp_path)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
