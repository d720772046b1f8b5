"""Reading a bundle or export for verification: a ZIP, checked entry by entry, or a folder."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

from ledger.verify.report import Report

MAX_FILES = 20_000
MAX_FILE_BYTES = 256 * 1024 * 1024


def read_zip(data: bytes, report: Report, what: str = "the bundle") -> dict[str, bytes] | None:
    """The files of a ZIP, each CRC-checked; None (with failed checks) when it is unreadable."""
    name = f"{what} is a readable ZIP file"
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        report.add(name, False, str(exc), "zip")
        return None
    files: dict[str, bytes] = {}
    bad: list[str] = []
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_FILES:
            report.add(name, False, f"{len(infos)} entries", "zip")
            return None
        for info in infos:
            path = info.filename
            if info.is_dir():
                continue
            unsafe = path.startswith("/") or "\\" in path or ".." in path.split("/")
            if unsafe or path in files:
                bad.append(f"{path}: {'unsafe' if unsafe else 'duplicate'} name")
                continue
            if info.file_size > MAX_FILE_BYTES:
                bad.append(f"{path}: too large")
                continue
            try:
                files[path] = zf.read(info)
            except (
                zipfile.BadZipFile,
                OSError,
                ValueError,
                NotImplementedError,
                EOFError,
                zlib.error,
            ) as exc:  # zlib.error and EOFError: a corrupt or truncated deflate stream
                bad.append(f"{path}: {exc}")
    for problem in bad:
        report.add(f"{what}: file {problem.split(':')[0]} reads back intact", False, problem, "zip")
    if not bad:
        report.add(name, True, f"{len(files)} files", "zip")
    return files


def read_directory(path: Path) -> dict[str, bytes]:
    """The files of an unpacked bundle (relative POSIX paths)."""
    return {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def is_zip_with(data: bytes, name: str) -> bool:
    """Whether ``data`` is a ZIP holding a file ``name`` (False for anything unreadable)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return name in zf.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return False
