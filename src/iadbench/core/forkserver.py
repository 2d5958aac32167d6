"""A warm process that forks the jobs' children: torch, Lightning and anomalib imported once per run, not per job.

Training, timing and evaluation jobs run their work in a child process (:func:`iadbench.run.attempts.run_child`:
``python -m <module> <args.json>``), and each such child spent ~8 s importing for ~1 s of work. The Snakefile's
``onstart`` starts, for a local run, one server per job environment (:func:`start`); it imports the children's
modules once, then forks one child per request. The child runs the module as ``python -m`` does (as
``__main__``, ``sys.argv = [path, args.json]``) with the job's stdin, stdout, stderr and job lock (passed over
the socket, SCM_RIGHTS), working directory and environment; its exit status (negative: the signal that killed
it, as :mod:`subprocess` reports it) goes back to the job. A job that finds no server runs ``python -m`` itself.

What keeps a forked child what a fresh one would be:

- **Environment.** A variable read at import (PYTHONPATH, HF_HUB_OFFLINE, TMPDIR, ...) must be what the child
  would have read. A server serves exactly one environment, up to the variables read later or set by the child
  (:data:`~iadbench.core.forkclient.LAZY_VARIABLES`: the GPU a job sees, its thread counts); its socket is named
  after it (:func:`~iadbench.core.forkclient.socket_path`), and it checks the job's environment again before
  forking.
- **No CUDA context, no thread pool** in the server when it forks (neither survives a fork); checked. The server
  loads BLAS and OpenMP with one thread; the child then sets the job's counts (those Snakemake gave the job,
  which a fresh child's libraries would have read when loaded) through threadpoolctl.
- **Process group.** The server stays in the run's group, so its children do too: a Ctrl-C or ``killpg`` of the
  run reaches them as it reached children of the job. A child outlives a killed Snakemake holding its job's
  lock, as before; the server then takes no new request and exits once its children have ended.
- **Access.** The socket is in ``.snakemake/iadbench/`` (mode 0700), addressed relative to the working directory
  (``sun_path`` holds 108 bytes); only the server's own user may connect (SO_PEERCRED); requests are JSON.

A job's Snakemake ``benchmark:`` file measures the job's process tree, which a forked child is not part of: its
wall time stays right, its ``max_rss`` and CPU time cover the job's own process only (the row's
``peak_rss_mb`` is the child's). ``IADBENCH_FORK_SERVER=0`` turns the servers off.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import runpy
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path

from iadbench.core.forkclient import HEADER, LAZY_VARIABLES, MAX_REQUEST, SOCKET_DIR, socket_path

# Threads that survive a fork (jemalloc's, loaded by a dependency, has fork handlers); any other refuses it.
FORK_SAFE_THREADS = frozenset({"jemalloc_bg_thd"})


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


_started: list[subprocess.Popen] = []  # the servers this process started, for stop()


def stop(timeout: float = 30) -> None:
    """End the servers this process started (a run's onsuccess/onerror): each removes its socket at once and
    exits once its children have, so that no socket outlives the run (a copy of the folder would trip on it)."""
    for server in _started:
        if server.poll() is None:
            server.terminate()
    for server in _started:
        try:
            server.wait(timeout)
        except subprocess.TimeoutExpired:
            pass  # a child still runs: the server answers it, then exits
    _started.clear()


def start(environment: Mapping[str, str], preload: Iterable[str], log_path: str | Path) -> subprocess.Popen:
    """Start the server for ``environment`` (it imports ``preload``); it lives as long as this process."""
    SOCKET_DIR.mkdir(parents=True, exist_ok=True)
    SOCKET_DIR.chmod(0o700)
    with open(log_path, "ab") as log:
        server = subprocess.Popen([sys.executable, "-m", "iadbench.core.forkserver", str(os.getpid()), *preload],
                                  env=dict(environment), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    _started.append(server)
    deadline = time.monotonic() + 10
    while not socket_path(environment).exists() and server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # listening before any job asks (it binds before importing: jobs wait in its backlog)
    return server


def refusal(environment: Mapping[str, str], request_environment: Mapping[str, str]) -> str:
    """Why a request may not be forked here ("" when it may)."""
    differing = sorted(key for key in set(environment) | set(request_environment) if key not in LAZY_VARIABLES
                       and environment.get(key) != request_environment.get(key))
    if differing:
        return "environment differs: " + ", ".join(differing[:10])
    missing = [key for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
               if not request_environment.get(key, "").isdigit()]
    if missing:
        return "the job sets no thread count: " + ", ".join(missing)  # the libraries' defaults: a fresh child's
    return ""


def fork_hazard() -> str:
    """What in this process a fork would break ("" when nothing): a CUDA context, a thread pool."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return "CUDA is initialised in the server"
    threads = _thread_names()
    if threading.active_count() > 1 or len([name for name in threads if name not in FORK_SAFE_THREADS]) > 1:
        return "the server runs threads: " + ", ".join(threads)
    return ""


def _thread_names() -> list[str]:
    tasks = Path("/proc/self/task")
    return [(tasks / task / "comm").read_text().strip() for task in os.listdir(tasks)]


def _apply_thread_counts(environment: Mapping[str, str]) -> None:
    """The job's thread counts, which a fresh child's BLAS and OpenMP would have read when loaded."""
    from threadpoolctl import threadpool_limits  # imported in the child: the server must start no pool

    threadpool_limits(limits={"openmp": int(environment["OMP_NUM_THREADS"]),
                              "blas": int(environment["OPENBLAS_NUM_THREADS"])})
    numexpr = sys.modules.get("numexpr")
    if numexpr is not None and environment.get("NUMEXPR_NUM_THREADS", "").isdigit():
        numexpr.set_num_threads(int(environment["NUMEXPR_NUM_THREADS"]))


class Server:
    def __init__(self, path: Path, parent_pid: int) -> None:
        self.path, self.parent_pid = path, parent_pid
        self.environment = dict(os.environ)
        self.selector = selectors.DefaultSelector()
        self.children: dict[int, tuple[socket.socket, int]] = {}  # pidfd -> (connection, pid)
        path.unlink(missing_ok=True)  # a server of a killed run: its socket leads nowhere
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.inode = path.stat().st_ino
        self.listener.listen(64)  # jobs that come during the imports wait in the backlog

    def serve(self) -> None:
        self.selector.register(self.listener, selectors.EVENT_READ)
        while self.listener is not None or self.children:
            for key, _ in self.selector.select(timeout=1.0):
                if key.fileobj is self.listener:
                    self.accept()
                else:
                    self.reap(key.fd)
            if self.listener is not None and (_stopping or os.getppid() != self.parent_pid):
                self.close_listener()  # the run is gone: finish the children, take nothing new

    def close_listener(self) -> None:
        self.selector.unregister(self.listener)
        self.listener.close()
        self.listener = None
        try:
            if self.path.stat().st_ino == self.inode:
                self.path.unlink()
        except OSError:
            pass

    def accept(self) -> None:
        connection, _ = self.listener.accept()
        connection.settimeout(30)
        descriptors: list[int] = []
        try:
            uid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
            if uid != os.getuid():
                raise PermissionError(f"peer uid {uid}")
            header, descriptors, _, _ = socket.recv_fds(connection, HEADER.size, 8)
            (size,) = HEADER.unpack(header)
            if size > MAX_REQUEST or len(descriptors) < 3:
                raise ValueError("malformed request")
            payload = bytearray()
            while len(payload) < size:
                chunk = connection.recv(size - len(payload))
                if not chunk:
                    raise ValueError("truncated request")
                payload.extend(chunk)
            request = json.loads(payload)
            reason = refusal(self.environment, request["environment"]) or fork_hazard()
        except (OSError, ValueError, KeyError, struct.error) as error:
            reason = f"bad request ({error})"
        if reason:
            self.refuse(connection, reason, descriptors)
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self.child(connection, request, descriptors)  # never returns
        for descriptor in descriptors:
            os.close(descriptor)
        pidfd = os.pidfd_open(pid)
        self.children[pidfd] = (connection, pid)
        self.selector.register(pidfd, selectors.EVENT_READ)
        self.send(connection, {"pid": pid})

    def refuse(self, connection: socket.socket, reason: str, descriptors: list[int]) -> None:
        for descriptor in descriptors:
            os.close(descriptor)
        print(f"fork server: refused a job: {reason}", file=sys.stderr, flush=True)
        self.send(connection, {"refused": reason})
        connection.close()

    @staticmethod
    def send(connection: socket.socket, message: dict) -> None:
        try:
            connection.sendall(json.dumps(message).encode() + b"\n")
        except OSError:
            pass  # the job is gone (killed): its child lives on, as a child of a killed job does

    def reap(self, pidfd: int) -> None:
        connection, pid = self.children.pop(pidfd)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status, usage = os.wait4(pid, 0)
        self.send(connection, {"status": os.waitstatus_to_exitcode(status), "peak_rss_kb": usage.ru_maxrss})
        connection.close()

    def child(self, connection: socket.socket, request: dict, descriptors: list[int]) -> None:
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            connection.close()
            self.selector.close()
            if self.listener is not None:
                self.listener.close()
            for pidfd, (other, _) in self.children.items():
                os.close(pidfd)
                other.close()
            for target, descriptor in enumerate(descriptors[:3]):
                os.dup2(descriptor, target)
                os.close(descriptor)
            os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(request["environment"])
            _apply_thread_counts(request["environment"])
            module = request["module"]
            sys.modules.pop(module, None)  # run as __main__, a fresh copy, as `python -m` does
            sys.argv = [module, *request["arguments"]]
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit_:
            code = _exit_code(exit_.code)
        except BaseException:  # noqa: BLE001 -- reported as the interpreter reports an uncaught error
            traceback.print_exc()
        finally:
            try:
                atexit._run_exitfuncs()
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)


def _exit_code(code: object) -> int:
    """What the interpreter exits with for ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


_stopping: list[bool] = []  # SIGTERM (stop()) came: the run has ended


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGTERM, lambda *_: _stopping.append(True))
    parent_pid, preload = int(argv[0]), argv[1:]
    server = Server(socket_path(os.environ), parent_pid)
    for name in preload:
        importlib.import_module(name)
    print(f"fork server {os.getpid()}: {len(preload)} modules imported, serving", file=sys.stderr, flush=True)
    server.serve()


if __name__ == "__main__":
    main(sys.argv[1:])
