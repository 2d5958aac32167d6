"""The archive a dataset download would fetch: listed (URL, where to put it) when its host cannot be reached."""

import json
import socket

import pytest

from iadbench.datasets.download import DownloadError
from iadbench.datasets.pending import archive_to_fetch, prepare_or_list

ARCHIVE = "mvtec_anomaly_detection.tar.xz"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_archive_to_fetch_is_named_with_its_place(tmp_path):
    entry = archive_to_fetch("mvtec_ad", {"type": "mvtec_ad"}, tmp_path / "mvtec_ad")
    assert entry["url"].endswith(ARCHIVE) and entry["name"] == "MVTec AD archive"
    assert entry["place"] == str(tmp_path / "mvtec_ad" / "download" / ARCHIVE)
    assert "datasets.mvtec_ad.path" in entry["how"] and "checksum" in entry["how"]
    assert archive_to_fetch("own", {"type": "mvtec_ad", "url": "https://mirror.example/a.tar.xz"},
                            tmp_path / "own")["url"] == "https://mirror.example/a.tar.xz"


@pytest.mark.parametrize("case", ["embedded", "path", "extracted", "miniature"])
def test_nothing_to_fetch_when_nothing_is_downloaded(tmp_path, case):
    spec = {"type": "embedded"} if case == "embedded" else {"type": "mvtec_ad"}
    if case == "path":
        spec["path"] = str(tmp_path / "mine.tar.xz")
    if case == "extracted":
        (tmp_path / "d" / "extracted").mkdir(parents=True)
    if case == "miniature":
        spec["miniature"] = {"n_train": 2}
    assert archive_to_fetch("d", spec, tmp_path / "d") is None


def test_an_unreachable_archive_is_recorded_for_the_runs_summary_and_a_success_removes_it(tmp_path):
    record = tmp_path / "logs" / "d.missing.json"
    url = f"http://127.0.0.1:{_closed_port()}/{ARCHIVE}"
    with pytest.raises(DownloadError, match="no network|refused|Refused"):
        prepare_or_list("d", {"type": "mvtec_ad", "url": url}, tmp_path / "d", record)
    written = json.loads(record.read_text())
    (entry,) = written["missing"]
    assert written["model"] == "dataset d" and entry["url"] == url
    assert entry["place"] == str(tmp_path / "d" / "download" / ARCHIVE) and entry["reason"]
    prepare_or_list("d", {"type": "embedded"}, tmp_path / "e", record)  # nothing to download: succeeds
    assert not record.exists()
