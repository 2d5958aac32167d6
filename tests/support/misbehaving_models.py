"""Models that fail in the ways real jobs fail, for containment tests (importable by class_path)."""

import os
import signal

from anomalib.models import Padim


class KilledPadim(Padim):
    """Dies like an out-of-memory kill: SIGKILL, no Python exception, no record written."""

    def __init__(self, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)


class RaisingPadim(Padim):
    def __init__(self, **kwargs):
        raise RuntimeError("this model always fails")


class DevicePadim(Padim):
    """Records the GPU slot it was given and holds it a moment (concurrency tests)."""

    def __init__(self, **kwargs):
        import time
        from pathlib import Path

        record_dir = os.environ.get("IADBENCH_TEST_RECORD_DIR")
        if record_dir:
            start = time.time()
            time.sleep(1.5)
            line = f"{os.environ.get('CUDA_VISIBLE_DEVICES')} {start} {time.time()}\n"
            with open(Path(record_dir) / f"{os.getpid()}.txt", "w") as handle:
                handle.write(line)
        super().__init__(**kwargs)


class FlakyPadim(Padim):
    """Fails while the file named by IADBENCH_TEST_FAIL_FLAG exists (a bug that gets fixed)."""

    def __init__(self, **kwargs):
        flag = os.environ.get("IADBENCH_TEST_FAIL_FLAG")
        if flag and os.path.exists(flag):
            raise RuntimeError("flaky model failed on purpose")
        super().__init__(**kwargs)


class SlowPadim(Padim):
    """Records its pid in IADBENCH_TEST_RECORD_DIR, then trains only once the flag file is gone
    (a long training job, to be orphaned by killing the Snakemake that started it)."""

    def __init__(self, **kwargs):
        import time
        from pathlib import Path

        record_dir, flag = os.environ.get("IADBENCH_TEST_RECORD_DIR"), os.environ.get("IADBENCH_TEST_FAIL_FLAG")
        if record_dir and flag:
            (Path(record_dir) / "slow.pid").write_text(str(os.getpid()))
            deadline = time.time() + 300
            while os.path.exists(flag) and time.time() < deadline:
                time.sleep(0.2)
        super().__init__(**kwargs)
