import io
import sys
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from archives import (
    MALICIOUS_KINDS,
    MALICIOUS_MEMBER,
    ZIP_MALICIOUS_KINDS,
    malicious_tar,
    malicious_zip,
    mvtec_ad_tree,
    tar_bytes,
    zip_bytes,
)

from iadbench.datasets.extract import ArchiveError, UnsafeArchiveError, safe_extract

TREE = mvtec_ad_tree(categories=("bottle",))
FORMATS = {
    "tar": lambda tree: tar_bytes(tree),
    "tar.gz": lambda tree: tar_bytes(tree, "gz"),
    "tar.bz2": lambda tree: tar_bytes(tree, "bz2"),
    "tar.xz": lambda tree: tar_bytes(tree, "xz"),
    "zip": zip_bytes,
}


def leftovers(parent: Path) -> list[str]:
    """Anything in the destination's folder besides the archive itself."""
    return sorted(path.name for path in parent.iterdir() if not path.name.startswith("archive"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_extracts_every_format_completely(tmp_path, fmt):
    archive = tmp_path / f"archive.{fmt}"
    archive.write_bytes(FORMATS[fmt](TREE))
    dest = safe_extract(archive, tmp_path / "out")
    files = [path for path in dest.rglob("*") if path.is_file()]
    extracted = {path.relative_to(dest).as_posix(): path.read_bytes() for path in files}
    assert extracted == TREE
    assert leftovers(tmp_path) == ["out"]
    assert dest.stat().st_mode & 0o777 == 0o755  # readable by the group, unlike a bare mkdtemp


def test_format_is_read_from_content_not_name(tmp_path):
    archive = tmp_path / "archive.download"
    archive.write_bytes(zip_bytes(TREE))
    assert (safe_extract(archive, tmp_path / "out") / "bottle" / "train" / "good" / "000.png").is_file()


@pytest.mark.parametrize("compression", ["", "gz"])
@pytest.mark.parametrize("kind", MALICIOUS_KINDS)
def test_malicious_tar_is_rejected_naming_the_member_and_leaves_nothing(tmp_path, kind, compression):
    parent = tmp_path / "datasets"
    parent.mkdir()
    archive = parent / "archive.tar"
    archive.write_bytes(malicious_tar(kind, compression))
    with pytest.raises(UnsafeArchiveError) as caught:
        safe_extract(archive, parent / "out")
    assert MALICIOUS_MEMBER[kind] in str(caught.value)
    assert caught.value.member == MALICIOUS_MEMBER[kind]
    assert leftovers(parent) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["datasets"]
    assert not Path("/tmp/iadbench-escaped.txt").exists()


@pytest.mark.parametrize("kind", ZIP_MALICIOUS_KINDS)
def test_malicious_zip_is_rejected_naming_the_member_and_leaves_nothing(tmp_path, kind):
    parent = tmp_path / "datasets"
    parent.mkdir()
    archive = parent / "archive.zip"
    archive.write_bytes(malicious_zip(kind))
    with pytest.raises(UnsafeArchiveError, match=MALICIOUS_MEMBER[kind].replace(".", r"\.")):
        safe_extract(archive, parent / "out")
    assert leftovers(parent) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["datasets"]


def test_links_inside_the_destination_are_kept(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b"payload"
        info = tarfile.TarInfo("a/file.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        links = (("a/sym", "file.txt", tarfile.SYMTYPE), ("b/hard", "a/file.txt", tarfile.LNKTYPE))
        for name, target, kind in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info)
    archive = tmp_path / "archive.tar"
    archive.write_bytes(buffer.getvalue())
    dest = safe_extract(archive, tmp_path / "out")
    assert (dest / "a" / "sym").is_symlink() and (dest / "a" / "sym").read_bytes() == b"payload"
    assert (dest / "b" / "hard").read_bytes() == b"payload"


def member_boundaries(data: bytes) -> tuple[int, int]:
    """Offsets in a plain tar: inside the last member's data, and right after it (before the end blocks)."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        last = tar.getmembers()[-1]
    return last.offset_data + 3, last.offset_data + -(-last.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.xz", "tar.bz2", "zip", "tar-mid-member", "tar-at-boundary"])
def test_truncated_archive_is_an_error_and_leaves_nothing(tmp_path, fmt):
    if fmt.startswith("tar-"):
        data = tar_bytes(TREE)
        inside, boundary = member_boundaries(data)
        data = data[: inside if fmt == "tar-mid-member" else boundary]
    else:
        data = FORMATS[fmt](TREE)
        data = data[: len(data) * 2 // 3]
    archive = tmp_path / f"archive.{fmt}"
    archive.write_bytes(data)
    with pytest.raises(ArchiveError, match="archive"):
        safe_extract(archive, tmp_path / "out")
    assert leftovers(tmp_path) == []


def test_refuses_a_non_empty_destination(tmp_path):
    archive = tmp_path / "archive.zip"
    archive.write_bytes(zip_bytes(TREE))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        safe_extract(archive, tmp_path / "out")
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["keep.txt"]
    # An empty folder is fine (replaced by the extraction).
    (tmp_path / "empty").mkdir()
    assert (safe_extract(archive, tmp_path / "empty") / "readme.txt").is_file()


def test_dot_slash_names_as_tar_writes_them_are_fine(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        root = tarfile.TarInfo("./")
        root.type = tarfile.DIRTYPE
        tar.addfile(root)
        info = tarfile.TarInfo("./bottle/readme.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    archive = tmp_path / "archive.tar.gz"
    archive.write_bytes(buffer.getvalue())
    assert (safe_extract(archive, tmp_path / "out") / "bottle" / "readme.txt").read_text() == "hi"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(
    st.lists(st.sampled_from(["..", ".", "a", "b", "", "/"]), min_size=1, max_size=5).map("/".join),
    min_size=1, max_size=3,
))
def test_no_member_name_escapes_the_destination(tmp_path_factory, names):
    base = tmp_path_factory.mktemp("fuzz")
    (base / "inside").mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    archive = base / "inside" / "archive.tar"
    archive.write_bytes(buffer.getvalue())
    try:
        dest = safe_extract(archive, base / "inside" / "out")
    except ArchiveError:  # UnsafeArchiveError included
        assert sorted(path.name for path in (base / "inside").iterdir()) == ["archive.tar"]
    else:
        assert all(path.resolve().is_relative_to(dest.resolve()) for path in dest.rglob("*"))
    assert sorted(path.name for path in base.iterdir()) == ["inside"]
