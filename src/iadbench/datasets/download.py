"""Download one file once: file lock, resumable (HTTP Range) retried transfer, checksum, atomic rename.

Hand-written as no library fits: requests has no resume; torch.hub.download_url_to_file no resume nor retries.

``dest`` only ever appears complete and verified: bytes go to ``<dest>.part`` and are renamed to
``dest`` after the checksum matched. ``<dest>.lock`` (:func:`file_lock`) serialises concurrent
downloads of the same file; a process that waited for the lock finds ``dest`` there and re-checks it
instead of downloading again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import filelock
import requests
import urllib3

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
LOG_EVERY_BYTES = 256 << 20
# Statuses worth another try (server trouble, throttling); other 4xx mean the link itself is wrong.
RETRIABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")

# Hex digest length -> hashlib algorithm name. Lengths are unambiguous for the algorithms in use.
ALGORITHM_BY_DIGEST_LENGTH = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}


class DownloadError(RuntimeError):
    """The file could not be downloaded (HTTP error, connection kept failing, truncated body)."""


class ChecksumMismatchError(DownloadError, ValueError):
    """The downloaded bytes do not hash to the published checksum."""

    def __init__(self, path: Path, algorithm: str, expected: str, actual: str, note: str = "") -> None:
        self.path, self.algorithm, self.expected, self.actual = path, algorithm, expected, actual
        super().__init__(
            f"{algorithm} checksum mismatch for {path}: expected {expected}, got {actual} "
            f"(a truncated or changed file, or a wrong `checksum:` in the config){note}"
        )


def checksum_algorithm(hexdigest: str) -> str:
    """The hash algorithm a hex digest was made with, inferred from its length (32 hex = md5, 64 = sha256).

    anomalib checks every published digest as SHA-256, MVTec 3D-AD's 32-digit MD5 included.
    """
    digest = hexdigest.strip().lower()
    if not digest or any(char not in "0123456789abcdef" for char in digest):
        raise ValueError(f"checksum {hexdigest!r} is not a hex digest")
    try:
        return ALGORITHM_BY_DIGEST_LENGTH[len(digest)]
    except KeyError:
        known = ", ".join(f"{length} ({name})" for length, name in ALGORITHM_BY_DIGEST_LENGTH.items())
        raise ValueError(
            f"checksum {hexdigest!r} has {len(digest)} hex digits; known lengths: {known}"
        ) from None


def file_checksum(path: str | Path, algorithm: str) -> str:
    """Hex digest of a file, read in chunks (archives are gigabytes)."""
    hasher = hashlib.new(algorithm)
    with Path(path).open("rb") as file:
        for chunk in iter(lambda: file.read(CHUNK_BYTES), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def verify_checksum(path: str | Path, checksum: str, algorithm: str | None = None) -> None:
    """Raise :class:`ChecksumMismatchError` unless ``path`` hashes to ``checksum``."""
    algorithm = algorithm or checksum_algorithm(checksum)
    actual = file_checksum(path, algorithm)
    if actual != checksum.strip().lower():
        raise ChecksumMismatchError(Path(path), algorithm, checksum.strip().lower(), actual)


@contextlib.contextmanager
def file_lock(lock_path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (created if needed, across processes) for the block.

    The lock file is left in place (``preserve_lock_file``): deleting it would let a waiting process
    lock an unlinked inode while a newcomer locks a fresh file, and both would run.
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(lock_path, preserve_lock_file=True):
        yield


def download(
    url: str,
    dest: str | Path,
    *,
    checksum: str | None = None,
    algorithm: str | None = None,
    retries: int = 5,
    backoff_seconds: float = 2.0,
    timeout_seconds: float = 60.0,
    session: requests.Session | None = None,
) -> Path:
    """Download ``url`` to ``dest`` once, verified against ``checksum`` when one is given.

    A partial ``<dest>.part`` left by an interrupted run or a dropped connection is resumed with an
    HTTP Range request (restarted from zero when the server ignores the range). ``retries`` counts
    consecutive attempts that brought no new bytes; waits grow as ``backoff_seconds * 2**n``.
    ``algorithm`` defaults to the one implied by the checksum's length (32 hex = md5, 64 = sha256).

    An existing ``dest`` is kept when it matches ``checksum`` (or no checksum is given), else fetched
    again. Returns ``dest``. Raises :class:`DownloadError` (or :class:`ChecksumMismatchError`); on a
    checksum mismatch nothing is left at ``dest`` or ``<dest>.part``.
    """
    if not url.startswith(("http://", "https://")):
        raise DownloadError(f"only http(s) URLs can be downloaded, not {url!r}")
    dest = Path(dest)
    if checksum is not None:
        algorithm = algorithm or checksum_algorithm(checksum)
    with file_lock(dest.with_name(dest.name + ".lock")):
        if dest.exists():
            # Someone (maybe a process we waited for) finished it. Re-check: a changed `checksum:` in the
            # config means another version of the file is wanted.
            try:
                if checksum is not None:
                    verify_checksum(dest, checksum, algorithm)
                logger.info("already downloaded: %s", dest)
                return dest
            except ChecksumMismatchError as error:
                logger.warning("%s; downloading it again", error)
                dest.unlink()
        part = dest.with_name(dest.name + ".part")
        own_session = session is None
        session = session or requests.Session()
        try:
            _fetch_resumable(session, url, part, retries, backoff_seconds, timeout_seconds)
        finally:
            if own_session:
                session.close()
        if checksum is not None:
            try:
                verify_checksum(part, checksum, algorithm)
            except ChecksumMismatchError as error:
                part.unlink(missing_ok=True)
                raise ChecksumMismatchError(
                    dest, error.algorithm, error.expected, error.actual, note="; the download was deleted"
                ) from None
        else:
            logger.warning("no checksum to verify %s against", dest)
        os.replace(part, dest)
        logger.info("downloaded %s (%d bytes)", dest, dest.stat().st_size)
        return dest


# No route to the network or the host (a machine without any network): as final as a refused connection.
UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH})


def _unreachable(error: BaseException) -> bool:
    return isinstance(error, (socket.gaierror, ConnectionRefusedError)) or (
        isinstance(error, OSError) and error.errno in UNREACHABLE_ERRNOS)


def no_network(error: BaseException) -> bool:
    """True when ``error`` says the host cannot be reached at all (its name does not resolve, or nothing
    listens there), as opposed to a transfer that broke: those fail again at once, they are not retried."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, urllib3.exceptions.NameResolutionError) or _unreachable(error):
            return True
        error = error.__cause__ or error.__context__ or (error.args[0] if error.args and
                                                         isinstance(error.args[0], BaseException) else None)
    return False


def unreachable(url: str, timeout_seconds: float = 10.0) -> str | None:
    """Why ``url``'s host (or the proxy the environment names for it) cannot be reached at all: its name does
    not resolve or nothing listens there (a refused connection). None when a TCP connection opens.

    A probe before libraries that retry such failures with backoff (huggingface_hub: 5 retries, ~25 s per file),
    so that an offline machine learns it at once; a transfer that breaks later is still theirs to retry."""
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return None
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxied = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxied.hostname or host, proxied.port or 8080
    try:
        socket.create_connection((host, port), timeout=timeout_seconds).close()
    except OSError as error:
        if _unreachable(error):
            return f"{host}:{port}: {type(error).__name__}: {error}"
        return None  # a timeout: maybe a slow network; the download itself decides
    return None


class _Restart(Exception):
    """The server's answer does not continue the partial file: start again from byte zero."""



def host_of(url: str) -> str:
    """The host (and port) part of ``url``."""
    return url.split("://", 1)[-1].split("/", 1)[0]


def unreachable_once(url: str, reachable: dict[str, str | None]) -> str | None:
    """Why ``url``'s host cannot be reached (:func:`unreachable`), or None; each host is probed once, its answer
    kept in ``reachable`` (host -> reason or None)."""
    host = host_of(url)
    if host not in reachable:
        reachable[host] = unreachable(url)
    return reachable[host]


def _fetch_resumable(
    session: requests.Session, url: str, part: Path, retries: int, backoff_seconds: float,
    timeout_seconds: float,
) -> None:
    """Fill ``part`` with the whole body of ``url``, resuming and retrying as needed."""
    part.parent.mkdir(parents=True, exist_ok=True)
    best_size = part.stat().st_size if part.exists() else 0
    failures = 0
    while True:
        offset = part.stat().st_size if part.exists() else 0
        try:
            if _fetch_once(session, url, part, offset, timeout_seconds):
                return
            problem = "connection closed before the end of the body"
        except _Restart as restart:
            logger.info("restarting download of %s from zero: %s", url, restart)
            part.unlink(missing_ok=True)
            problem = str(restart)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
            if no_network(error):  # not transient: retrying would only wait (minutes per file, offline)
                raise DownloadError(f"no network for {url}: {type(error).__name__}: {error}") from error
            problem = f"{type(error).__name__}: {error}"
        size = part.stat().st_size if part.exists() else 0
        if size > best_size:
            best_size, failures = size, 0
        else:
            failures += 1
        if failures > retries:
            raise DownloadError(
                f"download of {url} failed {failures} times in a row without progress "
                f"({size} bytes in {part}, kept for resuming): {problem}"
            )
        delay = backoff_seconds * 2 ** max(failures - 1, 0)
        logger.warning(
            "download of %s interrupted at %d bytes (%s); retrying in %.1f s", url, size, problem, delay
        )
        time.sleep(delay)


def _fetch_once(session: requests.Session, url: str, part: Path, offset: int, timeout_seconds: float) -> bool:
    """One request appending to ``part`` from ``offset``; True when the file is complete."""
    # identity: byte counts must match Content-Length / Content-Range, which a compressed transfer breaks.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = session.get(url, headers=headers, stream=True, timeout=timeout_seconds, allow_redirects=True)
    with request as response:
        if response.status_code == 416 and offset:
            # Nothing after `offset`: either the part is already whole, or it is longer than the file.
            total = _total_from_content_range(response.headers.get("Content-Range", ""))
            if total == offset:
                return True
            raise _Restart(f"range {offset}- not satisfiable (file has {total} bytes)")
        if response.status_code >= 400:
            if response.status_code in RETRIABLE_STATUSES:
                response.raise_for_status()
            raise DownloadError(f"HTTP {response.status_code} {response.reason} for {url}")
        if response.status_code == 206:
            match = CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
            if not match or int(match.group(1)) != offset:
                raise _Restart(f"unexpected Content-Range {response.headers.get('Content-Range')!r}")
            total = None if match.group(3) == "*" else int(match.group(3))
            mode = "ab"
        else:
            if offset:
                logger.info("server ignored the Range request for %s; downloading from zero", url)
            total = int(response.headers["Content-Length"]) if "Content-Length" in response.headers else None
            mode, offset = "wb", 0
        written = offset
        next_log = written + LOG_EVERY_BYTES
        with part.open(mode) as file:
            # raw.read1 hands over whatever arrived; iter_content (urllib3's read(amt)) would drop the
            # last partial chunk when the connection breaks, losing up to CHUNK_BYTES per interruption.
            while chunk := response.raw.read1(CHUNK_BYTES, decode_content=False):
                file.write(chunk)
                written += len(chunk)
                if written >= next_log:
                    logger.info("%s: %d of %s bytes", part.name, written, total if total is not None else "?")
                    next_log += LOG_EVERY_BYTES
    if total is None:
        # Without a length the end of the stream is all we have; the checksum is the real check.
        return True
    if written > total:
        raise _Restart(f"received {written} bytes, more than the announced {total}")
    return written == total


def _total_from_content_range(value: str) -> int | None:
    """The complete length in ``bytes */<total>`` (or ``bytes a-b/<total>``), if any."""
    match = re.fullmatch(r"bytes (?:\*|\d+-\d+)/(\d+)", value.strip())
    return int(match.group(1)) if match else None
