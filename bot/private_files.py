"""Files and folders that hold personal data: created 0600 / 0700 whatever the umask.

Everything the program writes with names, NIKs, invite links or figures in it goes through
here: invite cards and lists, rejected import rows, exports, digest files and their folders,
graduate lists. Libraries (XlsxWriter, openpyxl, fpdf2) open their output with the process
umask; a file reserved here first (created 0600, then fchmod) keeps its mode when the library
truncates and rewrites it, so there is no moment when the data sits in a readable file.

Temporary files and folders go beside the output (never in /tmp, where a killed process would
leave names behind for anyone to read), named `.pendamping-tmp-<pid>-...`; `clean_stale`
removes those whose process is gone, and every writer calls it when it starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
TEMP_PREFIX = ".pendamping-tmp-"


def private_dir(path: str | os.PathLike[str], *, tighten: bool = False) -> Path:
    """Create the folder and any missing parents as 0700; return it.

    tighten=True also sets 0700 on the folder itself when it already exists (folders the
    program owns, such as `digests/<period>/`); folders an operator chose are left alone.
    """
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=DIR_MODE)
        os.chmod(folder, DIR_MODE)
    if tighten and not missing:
        os.chmod(path, DIR_MODE)
    return path


def private_file(path: str | os.PathLike[str]) -> Path:
    """Create the file (or truncate an existing one) with mode 0600; return its path.

    Write into it afterwards with any library: opening an existing file for writing keeps
    its mode."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove temporaries in `folder` left by processes that are gone (a killed export);
    return what was removed."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        pid_text = entry.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        removed.append(entry)
    return removed


def temp_dir_beside(output: str | os.PathLike[str], kind: str) -> str:
    """A fresh 0700 folder beside `output` for a writer's scratch data (stale ones cleaned)."""
    folder = Path(output).resolve().parent
    clean_stale(folder)
    return tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-{kind}-", dir=folder)


@contextlib.contextmanager
def scratch_dir(folder: str | os.PathLike[str], kind: str) -> Iterator[Path]:
    """A fresh 0700 folder inside `folder` for files that only live while a chat answer is
    sent (an export for /ekspor); removed afterwards, and by clean_stale() if the process
    was killed first."""
    parent = private_dir(folder)
    clean_stale(parent)
    path = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-{kind}-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def temp_file_beside(output: str | os.PathLike[str]) -> Path:
    """A fresh 0600 file beside `output`, to be renamed over it when complete."""
    output = Path(output)
    clean_stale(output.resolve().parent)
    fd, name = tempfile.mkstemp(
        prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=output.suffix, dir=output.resolve().parent
    )
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    return Path(name)


def clean_stale_tree(root: str | os.PathLike[str]) -> list[Path]:
    """clean_stale() in `root` and every folder under it (the bot's `digests/` at start)."""
    root = Path(root)
    if not root.is_dir():
        return []
    removed = clean_stale(root)
    for folder in sorted(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink()):
        if folder.exists() and not folder.name.startswith(TEMP_PREFIX):
            removed += clean_stale(folder)
    return removed
