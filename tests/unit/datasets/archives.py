"""Test helpers: tiny archives in each dataset's true layout, malicious archives, a loopback HTTP server.

Trees are ``{relative path: bytes}``; images are a few pixels so every archive stays a few kilobytes.
The layouts follow what anomalib 2.7.0's datamodules expect to find after extracting the published
archives (see the comments of each builder).
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import numpy as np
from PIL import Image

Tree = dict[str, bytes]
MTIME = 1_600_000_000  # fixed, so archives (and their checksums) are reproducible


# ------------------------------------------------------------------------------------------- images
def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (8, 6), seed: int = 0, mode: str = "RGB") -> bytes:
    """A small noisy image encoded as ``fmt`` (PNG, JPEG, BMP)."""
    rng = np.random.default_rng(seed)
    channels = 3 if mode == "RGB" else 1
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode=mode).save(buffer, format=fmt)
    return buffer.getvalue()


def mask_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (8, 6), value: int = 255, empty: bool = False
) -> bytes:
    """A grey mask with a small square of ``value`` (all zero when ``empty``)."""
    pixels = np.zeros((size[1], size[0]), dtype=np.uint8)
    if not empty:
        pixels[1:3, 2:5] = value
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format=fmt)
    return buffer.getvalue()


# --------------------------------------------------------------------------------- dataset layouts
def mvtec_ad_tree(categories: tuple[str, ...] = ("bottle", "cable"), wrapper: str = "") -> Tree:
    """mvtec_anomaly_detection.tar.xz: category folders at the top (anomalib extracts into the root)."""
    tree: Tree = {f"{wrapper}license.txt": b"CC BY-NC-SA 4.0", f"{wrapper}readme.txt": b"MVTec AD"}
    for index, category in enumerate(categories):
        base = f"{wrapper}{category}"
        for n in range(2):
            tree[f"{base}/train/good/{n:03d}.png"] = image_bytes(seed=index * 10 + n)
        tree[f"{base}/test/good/000.png"] = image_bytes(seed=index * 10 + 5)
        for n in range(2):
            tree[f"{base}/test/broken_large/{n:03d}.png"] = image_bytes(seed=index * 10 + 6 + n)
            tree[f"{base}/ground_truth/broken_large/{n:03d}_mask.png"] = mask_bytes()
    return tree


def mvtec_3d_tree(categories: tuple[str, ...] = ("bagel",)) -> Tree:
    """mvtec_3d_anomaly_detection.tar.xz: <cat>/<split>/<label>/{rgb,xyz,gt}/NNN.{png,tiff}."""
    tree: Tree = {"readme.txt": b"MVTec 3D-AD"}
    for category in categories:
        tree[f"{category}/calibration/camera_parameters.json"] = b"{}"
        for split, label, count in (("train", "good", 2), ("validation", "good", 1), ("test", "good", 1),
                                    ("test", "crack", 2)):
            for n in range(count):
                base = f"{category}/{split}/{label}"
                tree[f"{base}/rgb/{n:03d}.png"] = image_bytes(seed=n + len(tree))
                tree[f"{base}/xyz/{n:03d}.tiff"] = b"II*\x00 not a real point cloud"
                if split == "test":
                    tree[f"{base}/gt/{n:03d}.png"] = mask_bytes(empty=label == "good")
    return tree


def btech_tree() -> Tree:
    """btad.zip: BTech_Dataset_transformed/<NN>/{train/ok, test/ok, test/ko, ground_truth/ko}.

    Category 02 ships .png, 01 and 03 .bmp (03 with .bmp masks too), which the preparation converts.
    """
    tree: Tree = {}
    formats = (("01", "BMP", "PNG"), ("02", "PNG", "PNG"), ("03", "BMP", "BMP"))
    for category, image_format, mask_format in formats:
        base = f"BTech_Dataset_transformed/{category}"
        suffix, mask_suffix = image_format.lower(), mask_format.lower()
        for n in range(2):
            tree[f"{base}/train/ok/{n:04d}.{suffix}"] = image_bytes(image_format, seed=n)
        tree[f"{base}/test/ok/0000.{suffix}"] = image_bytes(image_format, seed=7)
        tree[f"{base}/test/ko/0000.{suffix}"] = image_bytes(image_format, seed=8)
        tree[f"{base}/ground_truth/ko/0000.{mask_suffix}"] = mask_bytes(mask_format)
    return tree


def kolektor_tree() -> Tree:
    """KolektorSDD.zip: kosNN/PartM.jpg with kosNN/PartM_label.bmp (all-zero label = good)."""
    tree: Tree = {}
    for item in range(1, 6):
        for part in range(2):
            defect = (item, part) == (2, 1)
            tree[f"kos{item:02d}/Part{part}.jpg"] = image_bytes("JPEG", seed=item * 3 + part, mode="L")
            tree[f"kos{item:02d}/Part{part}_label.bmp"] = mask_bytes("BMP", empty=not defect)
    return tree


def visa_tree(categories: tuple[str, ...] = ("candle", "capsules")) -> Tree:
    """VisA_20220922.tar: <cat>/Data/{Images,Masks}/..., split_csv/1cls.csv; masks hold small labels."""
    rows = ["object,split,label,image,mask"]
    tree: Tree = {"LICENSE-DATASET": b"CC BY-NC-SA 4.0"}
    for category in categories:
        for n in range(3):
            image = f"{category}/Data/Images/Normal/{n:04d}.JPG"
            tree[image] = image_bytes("JPEG", seed=n)
            rows.append(f"{category},{'train' if n < 2 else 'test'},normal,{image},")
        for n in range(2):
            image = f"{category}/Data/Images/Anomaly/{n:03d}.JPG"
            mask = f"{category}/Data/Masks/Anomaly/{n:03d}.png"
            tree[image] = image_bytes("JPEG", seed=10 + n)
            tree[mask] = mask_bytes(value=n + 1)
            rows.append(f"{category},test,anomaly,{image},{mask}")
        tree[f"{category}/image_anno.csv"] = b"image,label,mask\n"
    tree["split_csv/1cls.csv"] = ("\n".join(rows) + "\n").encode()
    tree["split_csv/2cls_highshot.csv"] = b"object,split,label,image,mask\n"
    return tree


def mvtec_ad_2_tree() -> Tree:
    """mvtec_ad_2.tar.gz, wrapped in one folder: <cat>/{train,validation,test_public,test_private}."""
    tree: Tree = {}
    base = "mvtec_ad_2/can"
    tree[f"{base}/train/good/000_regular.png"] = image_bytes(seed=1)
    tree[f"{base}/train/good/001_regular.png"] = image_bytes(seed=2)
    tree[f"{base}/validation/good/000_regular.png"] = image_bytes(seed=3)
    tree[f"{base}/test_public/good/000_regular.png"] = image_bytes(seed=4)
    tree[f"{base}/test_public/bad/000_regular.png"] = image_bytes(seed=5)
    tree[f"{base}/test_public/ground_truth/bad/000_regular_mask.png"] = mask_bytes()
    tree[f"{base}/test_private/000_regular.png"] = image_bytes(seed=6)
    return tree


def mvtec_loco_tree() -> Tree:
    """mvtec_loco_anomaly_detection.tar.xz: one mask folder per defect image, one PNG per defect."""
    base = "breakfast_box"
    tree: Tree = {"readme.txt": b"MVTec LOCO"}
    tree[f"{base}/train/good/000.png"] = image_bytes(seed=1)
    tree[f"{base}/train/good/001.png"] = image_bytes(seed=2)
    tree[f"{base}/validation/good/000.png"] = image_bytes(seed=3)
    tree[f"{base}/test/good/000.png"] = image_bytes(seed=4)
    tree[f"{base}/test/logical_anomalies/000.png"] = image_bytes(seed=5)
    tree[f"{base}/ground_truth/logical_anomalies/000/000.png"] = mask_bytes()
    tree[f"{base}/ground_truth/logical_anomalies/000/001.png"] = mask_bytes(value=255, size=(8, 6))
    tree[f"{base}/test/structural_anomalies/000.png"] = image_bytes(seed=6)
    tree[f"{base}/ground_truth/structural_anomalies/000/000.png"] = mask_bytes()
    return tree


def mpdd_tree() -> Tree:
    """MPDD (manual download): already the MVTec AD layout."""
    return mvtec_ad_tree(categories=("bracket_black",))


def real_iad_tree() -> Tree:
    """Real-IAD (manual download): realiad_<res>/<cat>/{OK,NG}/... and realiad_jsons/ metadata."""
    tree: Tree = {}
    base = "realiad_256/audiojack"
    train, test = [], []
    for n in range(2):
        path = f"OK/S{n:04d}/audiojack_{n:04d}_OK_C1_20230922.jpg"
        tree[f"{base}/{path}"] = image_bytes("JPEG", seed=n)
        train.append({"category": "audiojack", "anomaly_class": "OK", "image_path": path, "mask_path": None})
    path = "OK/S0009/audiojack_0009_OK_C2_20230922.jpg"
    tree[f"{base}/{path}"] = image_bytes("JPEG", seed=9)
    test.append({"category": "audiojack", "anomaly_class": "OK", "image_path": path, "mask_path": None})
    path = "NG/AK/S0100/audiojack_0100_NG_AK_C1_20230922.jpg"
    mask = path.replace(".jpg", ".png")
    tree[f"{base}/{path}"] = image_bytes("JPEG", seed=10)
    tree[f"{base}/{mask}"] = mask_bytes()
    test.append({"category": "audiojack", "anomaly_class": "AK", "image_path": path, "mask_path": mask})
    metadata = {"meta": {"prefix": "", "normal_class": "OK"}, "train": train, "test": test}
    tree["realiad_jsons/realiad_jsons/audiojack.json"] = json.dumps(metadata).encode()
    return tree


# ------------------------------------------------------------------------------------------ packing
def write_tree(root: Path, tree: Tree) -> Path:
    for name, data in tree.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def tar_bytes(tree: Tree, compression: str = "") -> bytes:
    """A tar (``compression``: "", "gz", "bz2", "xz") holding the tree, folders included."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}") as tar:
        folders = sorted({str(folder) for name in tree for folder in Path(name).parents[:-1]})
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tar.addfile(info)
        for name, data in tree.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, MTIME
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(tree: Tree) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in tree.items():
            bundle.writestr(zipfile.ZipInfo(name, date_time=(2020, 9, 13, 12, 0, 0)), data)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ------------------------------------------------------------------------------------------ attacks
MALICIOUS_KINDS = ("traversal", "absolute", "symlink_outside", "symlink_absolute", "symlink_chain",
                   "hardlink_outside", "device", "fifo")
# The member each malicious archive must be rejected for.
MALICIOUS_MEMBER = {
    "traversal": "data/../../escaped.txt",
    "absolute": "/tmp/iadbench-escaped.txt",
    "symlink_outside": "data/link",
    "symlink_absolute": "data/link",
    "symlink_chain": "data/up",
    "hardlink_outside": "data/hard",
    "device": "data/null",
    "fifo": "data/pipe",
}
ZIP_MALICIOUS_KINDS = ("traversal", "absolute", "symlink_outside", "symlink_absolute", "device", "fifo")


def malicious_tar(kind: str, compression: str = "") -> bytes:
    """A tar whose first member is harmless and whose later member attacks as ``kind`` says."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}") as tar:
        harmless = b"harmless"
        info = tarfile.TarInfo("data/harmless.txt")
        info.size, info.mtime = len(harmless), MTIME
        tar.addfile(info, io.BytesIO(harmless))
        if kind == "symlink_chain":
            # "here" -> "." looks harmless; "data/up" -> "here/here/.." is "data/here" on paper but
            # really the parent of the destination once "here" is followed.
            tar.addfile(_link_info("data/here", ".", tarfile.SYMTYPE))
        member = MALICIOUS_MEMBER[kind]
        if kind in ("traversal", "absolute"):
            info = tarfile.TarInfo(member)
            info.size, info.mtime = len(harmless), MTIME
            tar.addfile(info, io.BytesIO(harmless))
        elif kind == "symlink_outside":
            tar.addfile(_link_info(member, "../../outside", tarfile.SYMTYPE))
        elif kind == "symlink_absolute":
            tar.addfile(_link_info(member, "/etc/passwd", tarfile.SYMTYPE))
        elif kind == "symlink_chain":
            tar.addfile(_link_info(member, "here/here/here/../..", tarfile.SYMTYPE))
        elif kind == "hardlink_outside":
            tar.addfile(_link_info(member, "../outside.txt", tarfile.LNKTYPE))
        elif kind == "device":
            info = _link_info(member, "", tarfile.CHRTYPE)
            info.devmajor, info.devminor = 1, 3
            tar.addfile(info)
        elif kind == "fifo":
            tar.addfile(_link_info(member, "", tarfile.FIFOTYPE))
        else:
            raise ValueError(kind)
    return buffer.getvalue()


def _link_info(name: str, target: str, member_type: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mtime, info.mode = member_type, target, MTIME, 0o644
    return info


def malicious_zip(kind: str) -> bytes:
    """A zip whose first member is harmless and whose later member attacks as ``kind`` says."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("data/harmless.txt", b"harmless")
        member = MALICIOUS_MEMBER[kind]
        info = zipfile.ZipInfo(member)
        info.create_system = 3  # Unix, so the file type bits below are honoured
        payload = b"harmless"
        if kind == "symlink_outside":
            info.external_attr, payload = (0o120777 << 16), b"../../outside"
        elif kind == "symlink_absolute":
            info.external_attr, payload = (0o120777 << 16), b"/etc/passwd"
        elif kind == "device":
            info.external_attr = 0o020644 << 16
        elif kind == "fifo":
            info.external_attr = 0o010644 << 16
        if kind in ("traversal", "absolute"):
            # ZipInfo normalises names; put the raw name back, as a hostile tool would write it.
            info.filename = member
        bundle.writestr(info, payload)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------- server
class ArchiveServer:
    """A loopback HTTP server (127.0.0.1, ephemeral port, own thread) serving ``files`` by name.

    ``ranges``: honour ``Range: bytes=N-`` (206/416) or ignore it (200, whole file). ``cut_after``:
    for the next ``cuts`` responses, send that many body bytes then drop the connection although
    Content-Length promised more. ``statuses``: answer the next requests with these error codes.
    ``/redirect/<name>`` answers 302 to ``/<name>``. ``requests`` logs (path, Range header) of GETs,
    ``heads`` the paths of HEADs, ``headers`` every request's headers (HEAD and GET, in order).

    Files under ``<host>/<repo>/resolve/<revision>/`` are answered like the Hugging Face Hub answers an
    LFS file, on HEAD and GET, which is what ``huggingface_hub.hf_hub_download`` requires:
    ``X-Repo-Commit`` (``hub_commit``), ``X-Linked-Etag`` (the body's sha256, or ``hub_etags[name]``),
    ``X-Linked-Size`` and ``ETag``.
    """

    HUB_COMMIT = "4f1b7c9e0d2a3b5c6e7f8091a2b3c4d5e6f70819"

    def __init__(
        self, files: dict[str, bytes], *, ranges: bool = True, cut_after: int | None = None, cuts: int = 0,
        statuses: tuple[int, ...] = (), delay_seconds: float = 0.0, hub_commit: str = HUB_COMMIT,
        hub_etags: dict[str, str] | None = None,
    ) -> None:
        self.files = dict(files)
        self.hub_commit, self.hub_etags = hub_commit, dict(hub_etags or {})
        self.heads: list[str] = []
        self.ranges, self.cut_after, self.cuts = ranges, cut_after, cuts
        self.statuses = list(statuses)
        self.delay_seconds = delay_seconds
        self.requests: list[tuple[str, str | None]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def url(self, name: str) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/{name}"

    def gets(self, name: str) -> list[str | None]:
        """Range headers of the requests for ``name`` (None: no Range)."""
        return [header for path, header in self.requests if path == f"/{name}"]

    def __enter__(self) -> Self:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                owner._log_headers(self)
                owner._serve(self)

            def do_HEAD(self) -> None:
                owner._log_headers(self)
                owner._head(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval, once per test.
        threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    def _log_headers(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.headers.append(dict(handler.headers.items()))

    def _hub_headers(self, name: str) -> dict[str, str]:
        """What the Hub sends for an LFS file (hf_hub_download needs a commit and an etag)."""
        if "/resolve/" not in name:
            return {}
        body = self.files[name]
        etag = self.hub_etags.get(name, hashlib.sha256(body).hexdigest())
        return {"X-Repo-Commit": self.hub_commit, "X-Linked-Etag": f'"{etag}"', "ETag": f'"{etag}"',
                "X-Linked-Size": str(len(body))}

    def _head(self, handler: BaseHTTPRequestHandler) -> None:
        name = handler.path.lstrip("/")
        with self._lock:
            self.heads.append(handler.path)
        if name not in self.files:
            return self._empty(handler, 404)
        handler.send_response(200)
        for key, value in self._hub_headers(name).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(self.files[name])))
        handler.send_header("Content-Type", "application/octet-stream")
        handler.end_headers()
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        range_header = handler.headers.get("Range")
        with self._lock:
            self.requests.append((path, range_header))
            status = self.statuses.pop(0) if self.statuses else None
            cut = self.cut_after if self.cuts > 0 else None
            self.cuts -= 1 if cut is not None else 0
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        if status is not None:
            return self._empty(handler, status)
        if path.startswith("/redirect/"):
            handler.send_response(302)
            handler.send_header("Location", path.removeprefix("/redirect"))
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        body = self.files.get(path.lstrip("/"))
        if body is None:
            return self._empty(handler, 404)
        start = 0
        if self.ranges and range_header and range_header.startswith("bytes=") and range_header.endswith("-"):
            start = int(range_header[len("bytes="):-1])
            if start >= len(body):
                return self._empty(handler, 416, {"Content-Range": f"bytes */{len(body)}"})
        payload = body[start:]
        handler.send_response(206 if start else 200)
        for key, value in self._hub_headers(path.lstrip("/")).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Content-Type", "application/octet-stream")
        if self.ranges:
            handler.send_header("Accept-Ranges", "bytes")
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        handler.end_headers()
        if cut is not None and cut < len(payload):
            handler.wfile.write(payload[:cut])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return None
        handler.wfile.write(payload)
        return None

    @staticmethod
    def _empty(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
