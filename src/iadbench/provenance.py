"""Where a result comes from: versions, git commit, host, peak memory."""

from __future__ import annotations

import platform
import resource
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    return {
        "python_version": platform.python_version(),
        "torch_version": package_version("torch"),
        "anomalib_version": package_version("anomalib"),
        "iadbench_version": package_version("iadbench"),
    }


def _git(directory: str | Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=directory, capture_output=True, text=True, check=True, timeout=20
    ).stdout.strip()


def git_commit(directory: str | Path = ".") -> str:
    """HEAD of the workflow's repository, suffixed ``-dirty`` when tracked files differ from it."""
    try:
        commit = _git(directory, "rev-parse", "HEAD")
        return commit + ("-dirty" if _git(directory, "status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info() -> dict[str, str]:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {"hostname": socket.gethostname(), "cpu": cpu_name(), "gpu": gpu}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def peak_gpu_mb() -> float:
    import torch

    if not torch.cuda.is_available():
        return float("nan")
    return torch.cuda.max_memory_allocated() / 2**20
