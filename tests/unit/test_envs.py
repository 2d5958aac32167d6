"""`make setup`, the conda env and the container all install requirements.lock, which resolves
pyproject.toml's pins (none of the envs can be built here; these checks keep them from drifting)."""

import hashlib
import re
import tomllib

import yaml

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)==([0-9][A-Za-z0-9_.+!\-]*)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503: FrEIA == freia, huggingface_hub == huggingface-hub


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        if match := PIN.match(line.strip()):
            found[normalized(match[1])] = match[2]
    return found


def lock_entries(text: str) -> dict[str, str]:
    """Each requirement of a pip requirements file with its continuation lines (the hashes) joined."""
    return {line.split("==")[0]: line for line in text.replace("\\\n", " ").splitlines() if PIN.match(line)}


def test_lock_pins_what_pyproject_pins_with_hashes(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    wanted = pins(project["dependencies"] + project["optional-dependencies"]["test"])
    lock_text = (repo_root / "requirements.lock").read_text()
    locked = pins(lock_text.splitlines())
    assert {name: locked.get(name) for name in wanted} == wanted, (
        "requirements.lock is stale: rerun the command in its header (and see requirements-nohash.lock)")
    # Hash-checking mode refuses the whole install if a single requirement lacks a hash.
    assert all("--hash=sha256:" in entry for entry in lock_entries(lock_text).values())
    # Resolved for the Python and platform the study runs on, not for whichever machine regenerated it.
    header = lock_text.split("\n\n")[0]
    assert "--generate-hashes" in header and "--python-version 3.11" in header
    assert "--python-platform x86_64-manylinux_2_28" in header


def test_hashless_lock_has_the_same_pins(repo_root):
    hashed = pins((repo_root / "requirements.lock").read_text().splitlines())
    hashless = (repo_root / "requirements-nohash.lock").read_text()
    assert pins(hashless.splitlines()) == hashed, "regenerate requirements-nohash.lock (command in its header)"
    assert "--hash" not in hashless


def test_conda_env_installs_the_lock(repo_root):
    text = (repo_root / "envs" / "iadbench.yaml").read_text()
    conda = yaml.safe_load(text)
    assert "python=3.11" in conda["dependencies"]
    pip_section = next(item["pip"] for item in conda["dependencies"] if isinstance(item, dict))
    assert pip_section == ["-r ../requirements-nohash.lock", "-e .."]
    # Snakemake keys the env on this file's content only: the lock's digest here makes a new lock a new env.
    digest = hashlib.sha256((repo_root / "requirements-nohash.lock").read_bytes()).hexdigest()
    assert digest in text, f"put requirements-nohash.lock's sha256 {digest} in envs/iadbench.yaml"


def test_dockerfile_and_makefile_install_the_lock_with_hashes(repo_root):
    dockerfile = (repo_root / "envs" / "Dockerfile").read_text()
    assert "COPY requirements.lock" in dockerfile
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in dockerfile
    assert "--no-deps -e ." in dockerfile
    assert not re.search(r"[A-Za-z0-9]==[0-9]", dockerfile), "a hand-written pin in envs/Dockerfile"
    makefile = (repo_root / "Makefile").read_text()
    assert "$(VENV)/.installed: pyproject.toml requirements.lock" in makefile
    assert "pip install --quiet --require-hashes -r requirements.lock" in makefile
