"""The conda env and the container install what pyproject.toml pins (neither can be built here)."""

import re
import tomllib

import yaml


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        for name, version in re.findall(r"([A-Za-z0-9_.\-]+)==([0-9][A-Za-z0-9_.\-]*)", line):
            found[name.lower()] = version
    return found


def test_conda_env_and_dockerfile_match_pyproject(repo_root):
    project = pins(tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["dependencies"])
    conda = yaml.safe_load((repo_root / "envs" / "iadbench.yaml").read_text())
    pip_section = next(item["pip"] for item in conda["dependencies"] if isinstance(item, dict))
    assert pins(pip_section) == project
    assert pins((repo_root / "envs" / "Dockerfile").read_text().splitlines()) == project
    assert "python=3.11" in conda["dependencies"]
