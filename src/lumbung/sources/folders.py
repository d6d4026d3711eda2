"""Finding a source family's files in its landing folder, the same way for every family.

A source module tells what one file is (``landing_file``: its dataset and partition, from
its folders and name, or ``UnrecognisedFile`` saying what is expected) and in which order
its files land; ``discover`` walks the folder and collects the problems.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lumbung.landing import BatchRejected, DatasetSpec

# Documentation travelling with the data (attribution, notes) is not data.
DOCS = frozenset({".md", ".txt"})

# A year's folder, the partition of the families that deliver by year.
YEAR_FOLDER = re.compile(r"^tahun=(\d{4})$")

F = TypeVar("F")


@dataclass(frozen=True)
class LandingFile:
    """One file to land: its dataset and its partition key."""

    path: Path
    spec: DatasetSpec
    partition_key: str


class UnrecognisedFile(ValueError):
    """A file in a landing folder whose dataset or partition cannot be told."""


def folder_year(path: Path, files: str) -> str:
    """The year of the ``tahun=<year>`` folder a file to read lies in; one elsewhere is
    rejected (``files``: what the message calls such files)."""
    year = YEAR_FOLDER.match(path.parent.name)
    if not year:
        raise BatchRejected(f"{files} must be inside a tahun=<year> folder")
    return year.group(1)


def data_files(root: Path) -> Iterator[Path]:
    """Files under ``root`` but hidden ones, Office lock files and documentation."""
    for path in sorted(root.rglob("*")):
        if (path.is_file() and not path.name.startswith((".", "~$"))
                and path.suffix.lower() not in DOCS):
            yield path


def discover(
    root: Path,
    landing_file: Callable[[Path], F],
    order: Callable[[F], Any],
    *,
    inside: str = "",
    suffix: str = "",
    missing: str = "",
) -> tuple[list[F], list[str]]:
    """The files under ``root`` to land, in ``order``, and one problem per other file.

    ``inside``: the folder a file must be directly in (e.g. ``"a tahun=<year>"``);
    ``suffix``: the only suffix a file may have; ``missing``: the problem of a missing
    ``root`` (none when empty: nothing delivered yet is nothing wrong)."""
    found: list[F] = []
    problems: list[str] = []
    if not root.is_dir():
        return found, [f"{root}: {missing}"] if missing else []
    for path in data_files(root):
        if inside and path.parent.parent != root:
            problems.append(f"{path}: not inside {inside} folder of {root}")
        elif suffix and path.suffix.lower() != suffix:
            problems.append(f"{path}: not a {suffix} file")
        else:
            try:
                found.append(landing_file(path))
            except UnrecognisedFile as err:
                problems.append(str(err))
    found.sort(key=order)
    return found, problems
