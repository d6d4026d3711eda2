"""Reading zip archives (Siskeudes exports, XLSX workbooks) at a bounded cost.

An archive bomb is a small file that expands to gigabytes. Before anything is expanded, the
archive's directory is checked against the limits (``config.Limits``): the uncompressed size
of the whole archive and of each member, and their compression ratios. Directories can lie,
so members are also read through ``Metered``, which counts the bytes really expanded and
rejects the file the moment a member gives more than its directory entry or a limit allows.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from lumbung.config import Limits, limits
from lumbung.landing import BatchRejected

RATIO_FLOOR = 1 << 20  # below 1 MiB expanded, a high ratio (a file of blanks) is harmless


def _size(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


def check_directory(zf: zipfile.ZipFile, archive_bytes: int, what: str = "archive",
                    limit: Limits | None = None) -> None:
    """BatchRejected naming the limit if the directory announces too much."""
    limit = limit or limits()
    total = 0
    for info in zf.infolist():
        total += info.file_size
        if info.file_size > limit.member_bytes:
            raise BatchRejected(
                f"{what} member {info.filename} expands to {_size(info.file_size)}, over the "
                f"limit of one member ({limit.name('member_bytes')} bytes)")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > limit.compression_ratio:
            raise BatchRejected(
                f"{what} member {info.filename} expands {ratio:,.0f} times "
                f"({_size(info.compress_size)} to {_size(info.file_size)}), over the "
                f"compression ratio limit ({limit.name('compression_ratio')}): an archive "
                "bomb or a damaged archive")
    if total > limit.archive_bytes:
        raise BatchRejected(
            f"{what} expands to {_size(total)}, over the limit of one archive "
            f"({limit.name('archive_bytes')} bytes)")
    ratio = total / max(archive_bytes, 1)
    if total > RATIO_FLOOR and ratio > limit.compression_ratio:
        raise BatchRejected(
            f"{what} expands {ratio:,.0f} times ({_size(archive_bytes)} to {_size(total)}), "
            f"over the compression ratio limit ({limit.name('compression_ratio')}): an "
            "archive bomb or a damaged archive")


def open_zip(path: Path, what: str = "archive",
             unreadable: str = "not a readable zip archive") -> zipfile.ZipFile:
    """The archive, its directory checked; BatchRejected if unreadable or over a limit."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise BatchRejected(f"{unreadable} (truncated or damaged?): {err}") from None
    try:
        check_directory(zf, path.stat().st_size, what)
    except BaseException:
        zf.close()
        raise
    return zf


class Meter:
    """Bytes expanded so far from one archive, against its limit."""

    def __init__(self, limit: Limits | None = None) -> None:
        self.limit = limit or limits()
        self.total = 0


class Metered(io.RawIOBase):
    """One member's bytes as expanded, counted against its directory entry and the limits."""

    def __init__(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, meter: Meter) -> None:
        self.inner = zf.open(info)
        self.info, self.meter, self.read_bytes = info, meter, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.read_bytes += n
        self.meter.total += n
        limit = self.meter.limit
        if self.read_bytes > self.info.file_size:
            raise BatchRejected(f"member {self.info.filename} expands past the size its "
                                "directory entry gives: a damaged or forged archive")
        if self.read_bytes > limit.member_bytes:
            raise BatchRejected(f"member {self.info.filename} expands past the limit of one "
                                f"member ({limit.name('member_bytes')} bytes)")
        if self.meter.total > limit.archive_bytes:
            raise BatchRejected(f"the archive expands past the limit of one archive "
                                f"({limit.name('archive_bytes')} bytes)")
        return n

    def close(self) -> None:
        self.inner.close()
        super().close()


def open_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, meter: Meter) -> io.BufferedReader:
    return io.BufferedReader(Metered(zf, info, meter), 1 << 16)
