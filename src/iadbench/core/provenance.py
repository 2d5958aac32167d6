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


# The libraries a result's numbers depend on besides torch and anomalib: backbones (timm), the training
# loop (lightning), metrics (torchmetrics, scikit-learn), flows (FrEIA), image I/O and resizing (opencv).
LIBRARY_COLUMNS = {
    "torchvision_version": "torchvision", "timm_version": "timm", "lightning_version": "lightning",
    "torchmetrics_version": "torchmetrics", "freia_version": "FrEIA", "numpy_version": "numpy",
    "sklearn_version": "scikit-learn",
}
# One `cv2` module, shipped by whichever of these distributions is installed.
OPENCV_DISTRIBUTIONS = ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
                        "opencv-contrib-python-headless")


def opencv_version() -> str:
    """The installed opencv distribution(s) as ``name==version``; several ones are listed, as they
    overwrite each other's `cv2` and which one won is unknowable from metadata."""
    found = [f"{name}=={version}" for name in OPENCV_DISTRIBUTIONS
             if (version := package_version(name)) != "not installed"]
    return ", ".join(found) or "not installed"


def versions() -> dict[str, str]:
    return {
        "python_version": platform.python_version(),
        "torch_version": package_version("torch"),
        "anomalib_version": package_version("anomalib"),
        **{column: package_version(name) for column, name in LIBRARY_COLUMNS.items()},
        "opencv_version": opencv_version(),
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


# The row's columns that identify the machine a job ran on (a cluster's node names, its GPU assignment):
# left out of published results unless the config includes them (publish.include_host_columns).
HOST_COLUMNS = ("hostname", "cpu", "gpu", "cuda_visible_devices")


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
