"""The fork server: a forked child is the child `python -m` would start (argv, cwd, environment, descriptors,
exit status), holds its job's lock, and a server serves only its own environment, user and run."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from iadbench.core import forkclient, forkserver

PROBE = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path

    action = sys.argv[1]
    from threadpoolctl import threadpool_info

    blas = [library["num_threads"] for library in threadpool_info() if library["user_api"] == "blas"]
    Path("probe.json").write_text(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "name": __name__, "blas": blas,
                                              "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
                                              "marker": os.environ.get("PROBE_MARKER")}))
    print("probe says hello", flush=True)
    if action == "exit3":
        sys.exit(3)
    if action == "raise":
        raise RuntimeError("probe failed")
    if action == "kill":
        os.kill(os.getpid(), 9)
    if action == "wait":
        while Path("hold.flag").exists():
            time.sleep(0.05)
""")


def wait_for(predicate, seconds=30.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A server of this test's environment (plus the probe module's folder), importing only json."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "probe_child.py").write_text(PROBE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(forkclient.SWITCH, raising=False)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "lib"), *sys.path[1:]]),
                   "PROBE_MARKER": "server", **dict.fromkeys(forkclient.THREAD_VARIABLES, "1")}
    process = forkserver.start(environment, ["json", "numpy"], tmp_path / "server.log")
    assert wait_for(lambda: forkclient.socket_path(environment).exists()), (tmp_path / "server.log").read_text()
    yield environment
    process.kill()
    process.wait()


def test_forked_child_runs_the_module_as_python_m_would(server, capfd):
    job = {**server, "CUDA_VISIBLE_DEVICES": "1", **dict.fromkeys(forkclient.THREAD_VARIABLES, "2")}
    status, how = forkclient.fork_child("probe_child", ["ok"], job, [])
    assert status == 0 and how.startswith("forked child"), how
    probe = json.loads(Path("probe.json").read_text())
    assert probe["blas"] and set(probe["blas"]) == {2}  # the job's count, though the server loaded BLAS with 1
    assert probe["name"] == "__main__" and probe["argv"][1:] == ["ok"] and probe["argv"][0].endswith("probe_child.py")
    assert probe["cwd"] == os.getcwd() and probe["gpu"] == "1" and probe["marker"] == "server"
    assert "probe says hello" in capfd.readouterr().out  # the job's stdout, passed over the socket


@pytest.mark.parametrize(("action", "expected"), [("exit3", 3), ("raise", 1), ("kill", -signal.SIGKILL)])
def test_exit_status_as_subprocess_reports_it(server, action, expected, capfd):
    status, _ = forkclient.fork_child("probe_child", [action], server, [])
    assert status == expected
    assert forkclient.last_peak_rss_kb > 1000  # the child's own peak (wait4), even when it was killed
    if action == "raise":
        assert "RuntimeError: probe failed" in capfd.readouterr().err


def test_the_child_holds_the_job_lock_after_the_job_lets_go(server):
    Path("hold.flag").touch()
    lock = os.open("job.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    result = {}
    thread = threading.Thread(target=lambda: result.update(status=forkclient.fork_child(
        "probe_child", ["wait"], server, [lock])[0]))
    thread.start()
    assert wait_for(lambda: Path("probe.json").exists())
    os.close(lock)  # the job's own descriptor: the child's copy keeps the lock
    with open("job.lock") as other:
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        Path("hold.flag").unlink()
        thread.join(30)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released with the child
    assert result["status"] == 0


def test_a_job_of_another_environment_or_with_the_switch_off_is_not_forked(server):
    status, how = forkclient.fork_child("probe_child", ["ok"], {**server, "PROBE_MARKER": "job"}, [])
    assert status is None and "no fork server" in how
    status, how = forkclient.fork_child("probe_child", ["ok"], {**server, forkclient.SWITCH: "0"}, [])
    assert status is None and forkclient.SWITCH in how
    assert not Path("probe.json").exists()


def test_refusal_names_the_variables_read_at_import():
    base = {"PYTHONPATH": "a", "HF_HUB_OFFLINE": "1", "_": "/bin/python", **dict.fromkeys(forkclient.THREAD_VARIABLES, "1")}
    assert forkserver.refusal(base, {**base, "CUDA_VISIBLE_DEVICES": "0", "_": "/usr/bin/env", "OMP_NUM_THREADS": "4"}) == ""
    assert forkserver.refusal(base, {**base, "HF_HUB_OFFLINE": "0"}) == "environment differs: HF_HUB_OFFLINE"
    without = {key: value for key, value in base.items() if key != "HF_HUB_OFFLINE"}
    assert forkserver.refusal(base, without) == "environment differs: HF_HUB_OFFLINE"
    unthreaded = {key: value for key, value in base.items() if key not in forkclient.THREAD_VARIABLES}
    assert forkserver.refusal(base, unthreaded).startswith("the job sets no thread count")
    assert forkclient.environment_key(base) == forkclient.environment_key(
        {**base, "CUDA_VISIBLE_DEVICES": "3", "OMP_NUM_THREADS": "2"})


def test_a_thread_in_the_server_refuses_the_fork():
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert forkserver.fork_hazard().startswith("the server runs threads")
    finally:
        release.set()
        thread.join()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another user")
def test_another_user_cannot_reach_the_server(server):
    path = forkclient.socket_path(server)
    assert Path(path).parent.stat().st_mode & 0o777 == 0o700
    probe = ("import os, socket, sys\nos.setgid(65534); os.setuid(65534)\n"
             "s = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect(sys.argv[1])\n"
             "except OSError as error:\n    print('refused', error)\n")
    output = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True).stdout
    assert output.startswith("refused")


def test_the_server_ends_with_the_run_that_started_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(forkclient.SWITCH, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    run = ("import os, sys\nfrom iadbench.core import forkserver\n"
           "print(forkserver.start(os.environ, ['json'], 'server.log').pid, flush=True)\n")
    pid = int(subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path[1:])}).stdout)

    def gone():
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().split()[2] == "Z"  # a zombie: exited, not yet reaped by init
        except (ProcessLookupError, FileNotFoundError):
            return True

    assert wait_for(gone, 30), (tmp_path / "server.log").read_text()
    assert not list((tmp_path / forkclient.SOCKET_DIR).glob("*.sock"))


def test_exit_codes_follow_the_interpreter():
    assert forkserver._exit_code(None) == 0 and forkserver._exit_code(4) == 4
    assert forkserver._exit_code("a message") == 1


def test_stop_removes_the_socket_before_the_run_ends(server):
    path = forkclient.socket_path(server)
    forkserver.stop(timeout=30)
    assert not path.exists()  # a copy of the run's folder right after the run finds no socket
    status, how = forkclient.fork_child("probe_child", ["ok"], server, [])
    assert status is None and "no fork server" in how
