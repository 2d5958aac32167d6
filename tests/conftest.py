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


@pytest.fixture(scope="session")
def trained_job(tiny_dataset, tmp_path_factory, repo_root):
    """A results folder with one trained job (embedded/washer/padim/0, random weights, 64 px, ~10 s) and
    the validated config that trained it: ``(results_dir, config)``. Shared by the predict/export tests."""
    from iadbench.config.base import Job, config_hash, train_config
    from iadbench.config.load import validate_config
    from iadbench.run.train import train_job

    config = validate_config({
        "datasets": {"embedded": {"type": "embedded", "categories": ["washer"]}},
        "models": {"padim": {"init_args": {"backbone": "resnet18", "layers": ["layer1", "layer2"]},
                             "max_epochs": 1, "train_batch_size": 4, "eval_batch_size": 4}},
        "seeds": [0], "image_size": 64, "weights": "random",
    }, repo_root / "workflow" / "schemas" / "config.schema.yaml")
    results = tmp_path_factory.mktemp("trained") / "results"
    job = Job("embedded", "washer", "padim", 0)
    info = train_job(dataset_root=tiny_dataset, category="washer", model_name="padim",
                     model_spec=config["models"]["padim"], seed=0, image_size=64, weights="random",
                     out_dir=results / "train" / "one_class" / "embedded" / "washer" / "padim" / "0",
                     extra_info={"train_config_hash": config_hash(train_config(config, job))})
    assert info["status"] == "ok", info["error_tail"]
    return results, config


# Under pytest-xdist (`make test`: -n 2 --dist loadgroup) each worker builds its own session and module
# fixtures: the tests sharing an end-to-end run go to one worker as one group, so that run happens once.
SHARED_RUNS = ("finished_run", "finished_video_run", "finished_protocols_run", "continual_run", "own_data_run",
               "trained_job", "settings_run")


def shared_fixture_group(item) -> str | None:
    """The group of the tests sharing ``item``'s costly fixture: a shared run, else its module's fixture."""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    for name in SHARED_RUNS:
        if name in item.fixturenames:
            return name
    for name in item.fixturenames:
        if any(definition.scope == "module" for definition in definitions.get(name, ())):
            return item.nodeid.split("::")[0]
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = shared_fixture_group(item)
        if group and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))
    if getattr(config.option, "loadgroup", False):  # an xdist worker under --dist loadgroup
        # The scheduler groups tests by a node id ending in "@<group>". xdist 3.8 writes it to `_nodeid`,
        # which pytest 9.2 no longer reads (its node id is `_id`): without this, groups are ignored
        # (pytest-dev/pytest-xdist#1386; drop this once an xdist release sets `_id` itself).
        from _pytest.nodeid import NodeId

        for item in items:
            groups = sorted({str(mark.args[0]) for mark in item.iter_markers("xdist_group") if mark.args})
            if groups and "@" not in item.nodeid:
                item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")
    # The costliest units of work first (longest first: the two workers then finish near each other, as the
    # last units to start are short), then the other modules with slow tests, then the rest.
    slow_modules = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: (cost_rank(item), item.nodeid.split("::")[0] not in slow_modules))


# The units of work (a shared run's group, else a module) that cost most, costliest first, as `make test`'s
# --durations showed them on 2 cores: what is not listed starts after them. An order, not a timing.
COSTLIEST_FIRST = (
    "tests/workflow/test_smoke.py", "finished_run", "settings_run", "tests/workflow/test_execution.py",
    "finished_video_run", "tests/workflow/test_slurm.py", "continual_run", "finished_protocols_run",
    "tests/workflow/test_offline_assets.py", "own_data_run",
)


def cost_rank(item) -> int:
    names = [str(mark.args[0]) for mark in item.iter_markers("xdist_group") if mark.args]
    names.append(item.nodeid.split("::")[0].split("@")[0])
    return min((COSTLIEST_FIRST.index(name) for name in names if name in COSTLIEST_FIRST), default=len(COSTLIEST_FIRST))


def pytest_configure(config):
    # xdist's loadgroup reorders units by their number of tests (--loadscope-reorder, its default), which put the
    # one-test smoke run (the costliest) behind every group; keep the order above instead.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
