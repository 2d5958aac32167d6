"""The interface every dataset family implements: its catalog facts and how one category is converted.

URLs and checksums are copied from anomalib 2.7.0 (the ``DOWNLOAD_INFO`` of each datamodule/dataset
module, path given in ``Archive.checksum_source``); category tuples match anomalib's ``CATEGORIES``.
Nothing was verified against the files themselves (no internet where this was written): a checksum is
only as good as anomalib's copy of it. The digest's algorithm is inferred from its length
(:func:`~iadbench.datasets.download.checksum_algorithm`), not assumed to be SHA-256 as anomalib does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iadbench.datasets.download import checksum_algorithm
from iadbench.datasets.validate import IMAGE_EXTENSIONS, PNG_EXTENSIONS

CC_BY_NC_SA_4 = "CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/), non-commercial"

MVTEC_FORM = (
    "MVTec publishes its datasets behind a short form. If the download link fails:\n"
    "  1. Open {homepage} and accept the license (non-commercial use).\n"
    "  2. Download {what}.\n"
    "  3. Either set `url:` (a working link) or `path:` (the archive file, or the folder it extracts to)\n"
    "     in this dataset's config entry, or extract it into {{expected}}."
)

# convert(source root, category, output folder, config entry): writes one category in the MVTec AD layout.
Converter = Callable[[Path, str, Path, dict[str, Any]], None]


class DatasetUnavailableError(RuntimeError):
    """The dataset is not on disk and cannot be fetched automatically; the message says what to do."""


@dataclass(frozen=True)
class Archive:
    """One downloadable archive of a dataset and the digest published for it."""

    url: str
    filename: str
    checksum: str
    checksum_source: str

    @property
    def algorithm(self) -> str:
        """Hash algorithm of ``checksum``, inferred from its length."""
        return checksum_algorithm(self.checksum)


@dataclass(frozen=True)
class DatasetFamily:
    """A real dataset type (the ``type:`` of a config entry): where to get it and how to convert it."""

    key: str
    display_name: str
    categories: tuple[str, ...]
    homepage: str
    license: str
    # How the prepared category is laid out and read; shown in docs and logs.
    layout_note: str
    # Steps to get the data by hand; the only way for datasets without ``archive``.
    manual_steps: str
    convert: Converter
    archive: Archive | None = None
    # Relative paths whose presence marks a directory as the dataset's root (first match wins):
    # archives and user copies differ in how many folders wrap the data.
    root_markers: tuple[str, ...] = field(default=())
    # The prepared images include JPEGs, so the reader must accept .jpg/.JPG besides .png.
    reads_jpeg: bool = False

    @property
    def downloadable(self) -> bool:
        """Whether iadbench can fetch the archive itself (otherwise: manual steps, or ``path:``)."""
        return self.archive is not None

    @property
    def image_extensions(self) -> tuple[str, ...]:
        """Image suffixes the reader of a prepared category picks up."""
        return IMAGE_EXTENSIONS if self.reads_jpeg else PNG_EXTENSIONS

    def markers(self) -> tuple[str, ...]:
        """Root markers, defaulting to the category folders."""
        return self.root_markers or self.categories

    def manual_steps_for(self, expected: Path) -> str:
        """The manual steps, naming ``expected`` as the folder to extract into."""
        return self.manual_steps.replace("{expected}", str(expected))
