import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from archives import ArchiveServer, md5, mvtec_ad_tree, sha256, tar_bytes

from iadbench.datasets.download import (
    ChecksumMismatchError,
    DownloadError,
    checksum_algorithm,
    download,
    file_lock,
)
from iadbench.datasets.families import FAMILIES

DATA = tar_bytes(mvtec_ad_tree(categories=("bottle",)), "gz")
FAST = {"backoff_seconds": 0.0, "timeout_seconds": 5.0}


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_good_download_is_verified_and_renamed_into_place(tmp_path):
    with ArchiveServer({"data.tar.gz": DATA}) as server:
        dest = download(server.url("data.tar.gz"), tmp_path / "data.tar.gz", checksum=sha256(DATA), **FAST)
    assert dest.read_bytes() == DATA
    assert files_in(tmp_path) == ["data.tar.gz", "data.tar.gz.lock"]  # no .part left


def test_md5_checksum_is_checked_as_md5(tmp_path):
    with ArchiveServer({"data.tar.gz": DATA}) as server:
        download(server.url("data.tar.gz"), tmp_path / "data.tar.gz", checksum=md5(DATA), **FAST)
        with pytest.raises(ChecksumMismatchError, match="md5"):
            download(server.url("data.tar.gz"), tmp_path / "data.tar.gz", checksum=md5(b"other"), **FAST)


def test_existing_file_is_kept_when_it_matches_and_fetched_again_when_not(tmp_path):
    dest = tmp_path / "data.tar.gz"
    dest.write_bytes(b"an older version")
    with ArchiveServer({"data.tar.gz": DATA}) as server:
        download(server.url("data.tar.gz"), dest, checksum=sha256(b"an older version"), **FAST)
        assert server.requests == []
        download(server.url("data.tar.gz"), dest, checksum=sha256(DATA), **FAST)
        assert len(server.requests) == 1
    assert dest.read_bytes() == DATA


def test_checksum_mismatch_names_file_expected_and_actual_and_leaves_nothing(tmp_path):
    wrong = sha256(b"something else")
    with ArchiveServer({"data.tar.gz": DATA}) as server, pytest.raises(ChecksumMismatchError) as caught:
        download(server.url("data.tar.gz"), tmp_path / "data.tar.gz", checksum=wrong, **FAST)
    message = str(caught.value)
    assert wrong in message and sha256(DATA) in message and str(tmp_path / "data.tar.gz") in message
    assert isinstance(caught.value, ValueError)
    assert files_in(tmp_path) == ["data.tar.gz.lock"]


def test_truncated_file_served_whole_fails_the_checksum(tmp_path):
    truncated = DATA[: len(DATA) // 2]
    with ArchiveServer({"data.tar.gz": truncated}) as server, pytest.raises(ChecksumMismatchError):
        download(server.url("data.tar.gz"), tmp_path / "data.tar.gz", checksum=sha256(DATA), **FAST)
    assert not (tmp_path / "data.tar.gz").exists()


def test_dropped_connection_is_resumed_with_a_range_request(tmp_path):
    with ArchiveServer({"data.tar.gz": DATA}, cut_after=len(DATA) // 3, cuts=2) as server:
        download(server.url("data.tar.gz"), tmp_path / "data.tar.gz", checksum=sha256(DATA), **FAST)
    third = len(DATA) // 3
    assert server.gets("data.tar.gz") == [None, f"bytes={third}-", f"bytes={2 * third}-"]
    assert (tmp_path / "data.tar.gz").read_bytes() == DATA


def test_partial_file_from_an_earlier_run_is_resumed(tmp_path):
    (tmp_path / "data.tar.gz.part").write_bytes(DATA[:100])
    with ArchiveServer({"data.tar.gz": DATA}) as server:
        download(server.url("data.tar.gz"), tmp_path / "data.tar.gz", checksum=sha256(DATA), **FAST)
    assert server.gets("data.tar.gz") == ["bytes=100-"]
    assert (tmp_path / "data.tar.gz").read_bytes() == DATA


def test_complete_partial_file_is_recognised_by_416(tmp_path):
    (tmp_path / "data.tar.gz.part").write_bytes(DATA)
    with ArchiveServer({"data.tar.gz": DATA}) as server:
        download(server.url("data.tar.gz"), tmp_path / "data.tar.gz", checksum=sha256(DATA), **FAST)
    assert (tmp_path / "data.tar.gz").read_bytes() == DATA


def test_server_without_range_support_restarts_from_zero(tmp_path):
    with ArchiveServer({"data.tar.gz": DATA}, ranges=False, cut_after=len(DATA) // 2, cuts=1) as server:
        download(server.url("data.tar.gz"), tmp_path / "data.tar.gz", checksum=sha256(DATA), **FAST)
    assert (tmp_path / "data.tar.gz").read_bytes() == DATA


def test_connection_that_keeps_dropping_without_progress_gives_up(tmp_path):
    server = ArchiveServer({"data.tar.gz": DATA}, ranges=False, cut_after=50, cuts=100)
    with server, pytest.raises(DownloadError, match="without progress"):
        download(server.url("data.tar.gz"), tmp_path / "data.tar.gz", retries=2, **FAST)
    assert len(server.requests) == 4  # the first attempt (progress) and three without progress
    assert not (tmp_path / "data.tar.gz").exists()


def test_server_errors_are_retried_but_missing_files_are_not(tmp_path):
    with ArchiveServer({"data.tar.gz": DATA}, statuses=(503, 502)) as server:
        download(server.url("data.tar.gz"), tmp_path / "data.tar.gz", checksum=sha256(DATA), **FAST)
        assert len(server.requests) == 3
        with pytest.raises(DownloadError, match="404"):
            download(server.url("gone.zip"), tmp_path / "gone.zip", **FAST)
        assert len(server.requests) == 4


def test_redirects_are_followed(tmp_path):
    with ArchiveServer({"data.tar.gz": DATA}) as server:
        download(server.url("redirect/data.tar.gz"), tmp_path / "data.tar.gz", checksum=sha256(DATA), **FAST)
    assert (tmp_path / "data.tar.gz").read_bytes() == DATA


def test_concurrent_downloads_of_one_file_fetch_it_once(tmp_path):
    results, errors = [], []

    def fetch():
        try:
            dest = tmp_path / "data.tar.gz"
            results.append(download(server.url("data.tar.gz"), dest, checksum=sha256(DATA), **FAST))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    with ArchiveServer({"data.tar.gz": DATA}, delay_seconds=0.3) as server:
        threads = [threading.Thread(target=fetch) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors and len(results) == 3
    assert len(server.requests) == 1


def test_file_lock_admits_one_holder_at_a_time_and_stays_in_place(tmp_path):
    lock_path = tmp_path / "new_folder" / "x.lock"
    holders, overlaps = [], []

    def hold():
        with file_lock(lock_path):
            holders.append(threading.get_ident())
            overlaps.append(len(holders) > 1)
            time.sleep(0.05)
            holders.remove(threading.get_ident())

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [False, False, False]
    assert lock_path.is_file()  # removing it would let a late comer lock a fresh file beside a waiting holder


def test_only_http_urls(tmp_path):
    with pytest.raises(DownloadError, match="http"):
        download("file:///etc/passwd", tmp_path / "x", **FAST)


def test_algorithm_is_inferred_from_the_digest_length():
    assert checksum_algorithm("d8bb2800fbf3ac88e798da6ae10dc819") == "md5"
    assert checksum_algorithm("A" * 64) == "sha256"
    for bad in ("abc", "z" * 32, ""):
        with pytest.raises(ValueError, match="checksum"):
            checksum_algorithm(bad)
    # MVTec 3D-AD's published digest is an md5, although anomalib checks it as sha256.
    assert FAMILIES["mvtec_3d"].archive.algorithm == "md5"
    others = {info.archive.algorithm for key, info in FAMILIES.items() if info.archive and key != "mvtec_3d"}
    assert others == {"sha256"}


def _unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("host", ["refused", "iadbench-offline-test.invalid"])
def test_no_network_fails_at_once_without_retries(tmp_path, host):
    """A refused connection or a name that does not resolve is not transient: no retry, no back-off wait."""
    # The port is found in the test, not at collection: pytest-xdist's workers must collect the same ids.
    url = f"http://{f'127.0.0.1:{_unused_port()}' if host == 'refused' else host}/data.tar.gz"
    started = time.monotonic()
    with pytest.raises(DownloadError, match="no network|refused|resolve") as caught:
        download(url, tmp_path / "data.tar.gz", retries=5, backoff_seconds=10.0, timeout_seconds=5.0)
    assert time.monotonic() - started < 5.0, "waited for retries"
    assert url in str(caught.value)
