import subprocess
import sys

import pytest

from iadbench.core.runlock import claim_workdir, read_only_invocation


def test_stale_locks_cleared_only_when_no_run_is_alive(tmp_path):
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("x")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path[:0] = sys.argv[2:]; from iadbench.core.runlock import claim_workdir;"
        "assert claim_workdir(sys.argv[1]); print('held', flush=True); time.sleep(30)"), str(tmp_path), *sys.path],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        (locks / "0.input.lock").write_text("x")  # the live run's lock
        assert claim_workdir(tmp_path) is False
        assert (locks / "0.input.lock").exists()
    finally:
        holder.kill()
        holder.wait()
    assert claim_workdir(tmp_path) is True  # the holder died: its locks are stale
    assert not (locks / "0.input.lock").exists()


@pytest.mark.parametrize(("argv", "read_only"), [
    (["snakemake", "--cores", "2", "-n"], True),
    (["snakemake", "-np"], True),
    (["snakemake", "--dry-run"], True),
    (["snakemake", "--lint", "--cores", "1"], True),
    (["snakemake", "--summary"], True),
    (["snakemake", "-S"], True),
    (["snakemake", "--cores", "2"], False),
    (["snakemake", "-p", "--cores", "8"], False),
    (["snakemake", "-F"], False),
    (["snakemake", "-d", "nested"], False),  # -d is --directory
    (["snakemake", "--configfile", "config/n.yaml"], False),
])
def test_read_only_invocations_are_recognised(argv, read_only):
    assert read_only_invocation(argv) is read_only
