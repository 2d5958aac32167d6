"""Shared fixtures: the repository root and a tiny generated dataset."""

from pathlib import Path

import pytest

from iadbench.datasets.embedded import EmbeddedSpec, generate

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_SPEC = EmbeddedSpec(image_size=64, n_train=6, n_test_good=3, n_test_per_defect=2)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """Two embedded categories at 64 px, generated once per test session."""
    root = tmp_path_factory.mktemp("embedded")
    generate(root, ["washer", "grass"], seed=0, spec=TINY_SPEC)
    return root
