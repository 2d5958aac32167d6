"""Safe, all-or-nothing extraction of zip and tar (plain, gz, bz2, xz) archives.

Every member is checked before it is written: no absolute paths, no ``..``, no link that points
outside the destination, no device files or FIFOs. Extraction happens in a temporary folder beside
``dest_dir`` that is renamed to ``dest_dir`` only once the whole archive extracted cleanly, so a
rejected, truncated or corrupt archive leaves nothing behind. Tar archives are read as one stream
(``r|*``): an xz archive of several gigabytes is decompressed once, not once to list and once to extract.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")  # gzip, bzip2, xz
# tarfile's "data" filter (Python >= 3.11.4) re-checks links and modes as a second line of defence.
TAR_FILTER = "data" if hasattr(tarfile, "data_filter") else None
TAR_FILTER_ERRORS = (tarfile.FilterError,) if hasattr(tarfile, "FilterError") else ()


class ArchiveError(ValueError):
    """The archive cannot be read to its end: truncated, corrupt, or not a zip/tar file."""


class UnsafeArchiveError(ArchiveError):
    """A member would write outside the destination or is not a plain file, folder or inside link."""

    def __init__(self, archive: Path, member: str, reason: str) -> None:
        self.archive, self.member, self.reason = archive, member, reason
        super().__init__(f"unsafe member {member!r} in {archive}: {reason}; nothing was extracted")


def safe_extract(archive_path: str | Path, dest_dir: str | Path) -> Path:
    """Extract ``archive_path`` (zip or tar.*) into ``dest_dir``, all members checked, all or nothing.

    ``dest_dir`` must not exist or be empty. Raises :class:`UnsafeArchiveError` naming the first
    offending member, :class:`ArchiveError` for a truncated/corrupt archive; in both cases neither
    ``dest_dir`` nor any temporary folder is left. Returns ``dest_dir``.
    """
    archive = Path(archive_path)
    dest = Path(dest_dir)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} exists and is not an empty folder; not extracting {archive} into it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.extracting-", dir=dest.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the data from the rest of a shared group
    try:
        if _is_zip(archive):
            _extract_zip(archive, staging)
        else:
            _extract_tar(archive, staging)
        if dest.exists():
            dest.rmdir()
        os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def _is_zip(archive: Path) -> bool:
    """Decide by content, not name: mirrors and `path:` copies do not always keep the suffix."""
    with archive.open("rb") as file:
        return file.read(4) in ZIP_MAGIC


def _is_compressed(archive: Path) -> bool:
    with archive.open("rb") as file:
        return file.read(6).startswith(COMPRESSED_MAGIC)


def _checked_relative_path(archive: Path, name: str) -> PurePosixPath:
    """The member's path relative to the destination, or UnsafeArchiveError."""
    if not name or "\x00" in name:
        raise UnsafeArchiveError(archive, name, "empty or NUL in name")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(archive, name, "absolute path")
    # Backslashes are separators on Windows-made archives; treat them so for the traversal check.
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        raise UnsafeArchiveError(archive, name, "path traversal ('..')")
    # "./" (the archive's own root, as `tar -C dir .` writes it) comes back empty: callers skip it.
    return PurePosixPath(*[part for part in parts if part != "."])


def _inside(root: Path, path: str | Path) -> bool:
    """Whether ``path`` resolves (links followed, as they exist now) to ``root`` or below."""
    real_root = os.path.realpath(root)
    real_path = os.path.realpath(path)
    return real_path == real_root or real_path.startswith(real_root + os.sep)


def _check_destination(archive: Path, staging: Path, member: str, relative: PurePosixPath) -> Path:
    """Where the member goes; its parent folders may be links already extracted, so resolve them."""
    target = staging / relative
    if not _inside(staging, target.parent) or (target.is_symlink() and not _inside(staging, target)):
        raise UnsafeArchiveError(archive, member, "its folder resolves outside the destination (via a link)")
    return target


def _check_symlink(archive: Path, staging: Path, member: str, relative: PurePosixPath, link: str) -> None:
    if not link or link.startswith(("/", "\\")) or (len(link) > 1 and link[1] == ":"):
        raise UnsafeArchiveError(archive, member, f"symlink to absolute path {link!r}")
    # Resolve against what is on disk now, so chains of links (a -> ., b -> a/a/..) are followed.
    if not _inside(staging, staging / relative.parent / link):
        raise UnsafeArchiveError(archive, member, f"symlink points outside the destination ({link!r})")


@contextlib.contextmanager
def _conflicts_named(archive: Path, member: str) -> Iterator[None]:
    """A member clashing with an earlier one (file vs folder of one name) is a malformed archive."""
    try:
        yield
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as error:
        raise ArchiveError(f"member {member!r} of {archive} clashes with an earlier one: {error}") from error


def _reraise_filesystem_error(error: BaseException) -> None:
    """A full disk or a permission problem is not a corrupt archive: let it through as it is.

    Decompressors report bad data as OSError without an errno (e.g. ``gzip.BadGzipFile``).
    """
    if isinstance(error, OSError) and error.errno is not None:
        raise error


def _extract_tar(archive: Path, staging: Path) -> None:
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                with _conflicts_named(archive, member.name):
                    _extract_tar_member(archive, staging, tar, member)
            end_of_members = tar.offset
        if not _is_compressed(archive) and archive.stat().st_size < end_of_members + 2 * tarfile.BLOCKSIZE:
            # tarfile stops quietly when a plain tar ends between members; the two zero blocks that
            # close every tar tell a complete archive from a truncated one. (Compressed streams carry
            # their own end marker, checked by the decompressor.)
            raise ArchiveError(f"{archive} ends without the tar end-of-archive blocks: truncated")
    except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error, OSError) as error:
        _reraise_filesystem_error(error)
        raise ArchiveError(f"cannot read {archive} to its end (truncated or corrupt?): {error}") from error


def _extract_tar_member(archive: Path, staging: Path, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    relative = _checked_relative_path(archive, member.name)
    if not relative.parts:
        if member.isdir():
            return
        raise UnsafeArchiveError(archive, member.name, "names the destination itself")
    if member.ischr() or member.isblk():
        raise UnsafeArchiveError(archive, member.name, "device file")
    if member.isfifo():
        raise UnsafeArchiveError(archive, member.name, "FIFO")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchiveError(archive, member.name, f"unsupported member type {member.type!r}")
    _check_destination(archive, staging, member.name, relative)
    if member.issym():
        _check_symlink(archive, staging, member.name, relative, member.linkname)
    if member.islnk():
        # Hard link names are relative to the archive root and must name a file extracted before.
        try:
            link_relative = _checked_relative_path(archive, member.linkname)
        except UnsafeArchiveError as error:
            raise UnsafeArchiveError(archive, member.name, f"hard link target: {error.reason}") from None
        if not link_relative.parts or not _inside(staging, staging / link_relative):
            raise UnsafeArchiveError(archive, member.name, f"hard link to outside ({member.linkname!r})")
        if not (staging / link_relative).is_file():
            raise UnsafeArchiveError(archive, member.name, f"hard link to missing file {member.linkname!r}")
    member.name = relative.as_posix()
    if member.islnk():
        member.linkname = link_relative.as_posix()
    try:
        tar.extract(member, staging, filter=TAR_FILTER)
    except TAR_FILTER_ERRORS as error:
        raise UnsafeArchiveError(archive, member.name, str(error)) from error


def _extract_zip(archive: Path, staging: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                with _conflicts_named(archive, info.filename):
                    _extract_zip_member(archive, staging, bundle, info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, lzma.LZMAError, OSError) as error:
        _reraise_filesystem_error(error)
        raise ArchiveError(f"cannot read {archive} to its end (truncated or corrupt?): {error}") from error


def _extract_zip_member(archive: Path, staging: Path, bundle: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    relative = _checked_relative_path(archive, info.filename)
    if not relative.parts:
        if info.is_dir():
            return
        raise UnsafeArchiveError(archive, info.filename, "names the destination itself")
    # Unix permissions (with the file type) live in the high 16 bits when the zip was made on Unix.
    mode = info.external_attr >> 16
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise UnsafeArchiveError(archive, info.filename, "device file")
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise UnsafeArchiveError(archive, info.filename, "FIFO or socket")
    target = _check_destination(archive, staging, info.filename, relative)
    if stat.S_ISLNK(mode):
        link = bundle.read(info).decode("utf-8")
        _check_symlink(archive, staging, info.filename, relative, link)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link, target)
        return
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    if target.exists() or target.is_symlink():
        raise UnsafeArchiveError(archive, info.filename, "duplicate member (would overwrite an earlier one)")
    target.parent.mkdir(parents=True, exist_ok=True)
    # "xb": never write through an existing file or link of the same name.
    with bundle.open(info) as source, target.open("xb") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)
