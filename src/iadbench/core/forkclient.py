"""The job's side of the fork server (:mod:`iadbench.core.forkserver`): which server serves a job's environment,
and :func:`fork_child`, which asks it for the job's child. Also the protocol both sides share (a length-prefixed JSON
request with the job's descriptors, SCM_RIGHTS; a JSON line back on fork, another with the exit status)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

SOCKET_DIR = Path(".snakemake/iadbench")
SWITCH = "IADBENCH_FORK_SERVER"
# Thread counts Snakemake sets per job, which BLAS and OpenMP read when loaded: a server loads them with one
# thread (no thread pool exists when it forks) and the child sets the job's counts (_apply_thread_counts).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
# May differ between the server and the job: read after the fork (the GPU the job sees, the thread counts as
# above), or the shell's bookkeeping that no library reads (Snakemake starts a job's script through bash).
LAZY_VARIABLES = frozenset({"CUDA_VISIBLE_DEVICES", "_", "SHLVL", "PWD", "OLDPWD", *THREAD_VARIABLES})
HEADER = struct.Struct("!I")
MAX_REQUEST = 1 << 20


def environment_key(environment: Mapping[str, str]) -> str:
    """A short digest of what a child reads from its environment at import."""
    items = sorted((key, value) for key, value in environment.items() if key not in LAZY_VARIABLES)
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def socket_path(environment: Mapping[str, str]) -> Path:
    """The socket of the server for this environment (relative to the run's working directory)."""
    return SOCKET_DIR / f"fork-{environment_key(environment)}.sock"


def switched_off(environment: Mapping[str, str] = os.environ) -> bool:
    return environment.get(SWITCH, "1").strip().lower() in {"0", "off", "false", "no"}


# --------------------------------------------------------------------------------------------
# The job's side
# --------------------------------------------------------------------------------------------


def _read_line(connection: socket.socket, buffer: bytearray) -> dict | None:
    while b"\n" not in buffer:
        chunk = connection.recv(4096)
        if not chunk:
            return None
        buffer.extend(chunk)
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return json.loads(line)


# The peak resident memory (KiB) of the last child forked for this process, as wait4 reports it to the server.
last_peak_rss_kb: float = float("nan")


def fork_child(module: str, arguments: list[str], environment: Mapping[str, str], descriptors: Iterable[int],
               ) -> tuple[int | None, str]:
    """Run ``python -m module *arguments`` as a child forked by this environment's server.

    ``descriptors``: the job lock's (the child holds it for its life) besides stdin, stdout and stderr, which
    it always gets. Returns ``(exit status, how)``; the status is None when no server took the job (``how``
    says why): the caller then starts the child itself.
    """
    if switched_off(environment):
        return None, f"fork server off ({SWITCH})"
    path = socket_path(environment)
    if not path.exists():
        return None, "no fork server for this job's environment"
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(path))
        request = json.dumps({"module": module, "arguments": list(arguments), "cwd": os.getcwd(),
                              "environment": dict(environment)}).encode()
        sys.stdout.flush()
        sys.stderr.flush()
        socket.send_fds(connection, [HEADER.pack(len(request))], [0, 1, 2, *descriptors])
        connection.sendall(request)
        buffer = bytearray()
        started = _read_line(connection, buffer)
    except OSError as error:
        connection.close()
        return None, f"fork server unreachable ({error})"
    if started is None or "pid" not in started:
        connection.close()
        reason = started.get("refused", "") if started else "closed the connection"
        return None, f"fork server refused ({reason})"
    pid = int(started["pid"])
    try:
        finished = _read_line(connection, buffer)
    except BaseException:  # e.g. KeyboardInterrupt: kill the child, as subprocess.run does
        _kill(pid)
        raise
    finally:
        connection.close()
    if finished is None:  # the server died before the child (killed): wait for the child, status unknown
        while _alive(pid):
            time.sleep(0.5)
        return -signal.SIGKILL, f"forked child {pid}; the fork server died before it reported"
    global last_peak_rss_kb
    last_peak_rss_kb = float(finished.get("peak_rss_kb", "nan"))
    return int(finished["status"]), f"forked child {pid}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
