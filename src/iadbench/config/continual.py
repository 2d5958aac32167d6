"""The continual setting's configuration: task sequences (given or preset), their checks, and the jobs.

A sequence is an ordered list of tasks over one dataset's categories, each task one or more categories.
One model is trained step by step (step t = task t) and, after each step, evaluated on every category of
every task seen so far. Job grammar (``results/continual/<stage>/...``)::

    train:    {sequence}/{model}/{seed}/{strategy}/step{step}/   model.ckpt, train_info.json, predictions/
    evaluate: {sequence}/{model}/{seed}/{strategy}/step{step}/{category}/row.parquet

Strategies (``continual.strategies``): ``naive`` (fine-tune from step t-1 on task t only), ``joint`` (from
scratch on the union of tasks 1..t: no chain), ``accumulate`` (naive, then PatchCore/PaDiM keep the
previous steps' memory bank / Gaussian statistics, :mod:`iadbench.run.continual_step`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from iadbench.config.base import ConfigError, dataset_source, model_image_size
from iadbench.datasets import dataset_categories
from iadbench.datasets.prepare import dataset_type, is_video
from iadbench.models.registry import import_class, resolve_class_path

STRATEGIES = ("naive", "joint", "accumulate")
# Models whose bank `accumulate` knows how to keep (iadbench.run.continual_step.merge_bank).
ACCUMULATE_CLASSES = {"anomalib.models.Patchcore": "patchcore", "anomalib.models.Padim": "padim"}

# MVTec AD's 15 categories in alphabetical order.
MVTEC_AD_ALPHABETICAL = ("bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut",
                         "pill", "screw", "tile", "toothbrush", "transistor", "wood", "zipper")
# IM-IAD's task order (Xie et al., "IM-IAD: Industrial Image Anomaly Detection Benchmark in Manufacturing",
# IEEE TII 2024), one category per task. It is the alphabetical order; both presets are kept so that a
# config names the protocol it follows.
IM_IAD_ORDER = MVTEC_AD_ALPHABETICAL


def _incremental(first: int, size: int) -> tuple[tuple[str, ...], ...]:
    """The first ``first`` alphabetical categories in one task, then the rest in tasks of ``size``."""
    rest = MVTEC_AD_ALPHABETICAL[first:]
    return (MVTEC_AD_ALPHABETICAL[:first], *(rest[index:index + size] for index in range(0, len(rest), size)))


# preset → (tasks, source). 14-1 and 10-5: IUF's incremental protocols (Tang et al., ECCV 2024);
# 3 + 3x4: the CDAD / One-for-More protocol style (Li et al., CVPR 2025), first k then k per task.
PRESETS: dict[str, tuple[tuple[tuple[str, ...], ...], str]] = {
    "im_iad": (tuple((category,) for category in IM_IAD_ORDER), "IM-IAD (Xie et al., IEEE TII 2024)"),
    "alphabetical": (tuple((category,) for category in MVTEC_AD_ALPHABETICAL), "alphabetical order"),
    "14-1": (_incremental(14, 1), "IUF (Tang et al., ECCV 2024)"),
    "10-5": (_incremental(10, 5), "IUF (Tang et al., ECCV 2024)"),
    "3+3x4": (_incremental(3, 3), "CDAD / One-for-More (Li et al., CVPR 2025)"),
}
PRESET_DATASET_TYPE = "mvtec_ad"


class Sequence(NamedTuple):
    name: str
    dataset: str
    tasks: tuple[tuple[str, ...], ...]

    def task_of(self, category: str) -> int:
        """The (1-based) task a category belongs to."""
        return next(index for index, task in enumerate(self.tasks, 1) if category in task)

    def seen(self, step: int) -> list[str]:
        """Every category of tasks 1..step, in task order: what step ``step`` is evaluated on."""
        return [category for task in self.tasks[:step] for category in task]

    def training_categories(self, step: int, strategy: str) -> list[str]:
        """What step ``step`` trains on: task ``step`` (naive, accumulate) or tasks 1..step (joint)."""
        return self.seen(step) if strategy == "joint" else list(self.tasks[step - 1])


class StepJob(NamedTuple):
    sequence: str
    model: str
    seed: int
    strategy: str
    step: int

    @property
    def path(self) -> str:
        return f"{self.sequence}/{self.model}/{self.seed}/{self.strategy}/step{self.step}"


class EvaluationJob(NamedTuple):
    sequence: str
    model: str
    seed: int
    strategy: str
    step: int
    category: str

    @property
    def path(self) -> str:
        return f"{self.sequence}/{self.model}/{self.seed}/{self.strategy}/step{self.step}/{self.category}"


def _error(sequence: str, message: str) -> ConfigError:
    return ConfigError(f"config key 'continual.sequences.{sequence}': {message}")


def _sequence(config: dict[str, Any], name: str, entry: dict[str, Any]) -> Sequence:
    datasets = config["datasets"]
    dataset = entry.get("dataset")
    if dataset is None:
        if len(datasets) != 1:
            raise _error(name, f"name its `dataset` (the config has {len(datasets)}: {', '.join(datasets)})")
        dataset = next(iter(datasets))
    if dataset not in datasets:
        raise _error(name, f"dataset {dataset!r} is not a key of `datasets` ({', '.join(datasets)})")
    if is_video(datasets[dataset]):
        raise _error(name, f"video dataset {dataset!r}: the continual setting is for image datasets (its steps "
                           "train image models and compare image metrics)")
    if (entry.get("tasks") is None) == (entry.get("preset") is None):
        raise _error(name, "give either `tasks` or `preset`")
    if entry.get("preset") is not None:
        if dataset_type(datasets[dataset]) != PRESET_DATASET_TYPE:
            raise _error(name, f"preset {entry['preset']!r} is an MVTec AD protocol; dataset {dataset!r} is not "
                               f"of type {PRESET_DATASET_TYPE}")
        tasks = PRESETS[entry["preset"]][0]
    else:
        tasks = tuple(tuple(task) for task in entry["tasks"])
    known = dataset_categories(datasets[dataset])
    first_task: dict[str, int] = {}
    for index, task in enumerate(tasks, 1):
        if not task:
            raise _error(name, f"task {index} is empty (each task names one or more categories)")
        for category in task:
            if category not in known:
                raise _error(name, f"task {index}: {category!r} is not a category of dataset {dataset!r} "
                                   f"(its categories: {', '.join(known)})")
            if category in first_task:
                where = (f"tasks {first_task[category]} and {index}" if first_task[category] != index
                         else f"task {index}, twice")
                raise _error(name, f"category {category!r} appears twice ({where})")
            first_task[category] = index
    return Sequence(name, dataset, tasks)


def sequences(config: dict[str, Any]) -> dict[str, Sequence]:
    """The configured sequences, presets expanded (checked: :func:`check_continual`)."""
    entries = (config.get("continual") or {}).get("sequences") or {}
    return {name: _sequence(config, name, entry or {}) for name, entry in entries.items()}


def continual_models(config: dict[str, Any]) -> list[str]:
    selected = (config.get("continual") or {}).get("models", "all")
    return list(config["models"]) if selected == "all" else list(selected)


def strategies_of(config: dict[str, Any], model: str) -> list[str]:
    strategies = (config.get("continual") or {}).get("strategies", ["naive"])
    return list(strategies.get(model, [])) if isinstance(strategies, dict) else list(strategies)


def accumulate_kind(config: dict[str, Any], model: str) -> str | None:
    """``patchcore`` / ``padim`` for models whose bank `accumulate` keeps, else None."""
    class_path = resolve_class_path(model, config["models"][model].get("class_path"))
    if class_path in ACCUMULATE_CLASSES:
        return ACCUMULATE_CLASSES[class_path]
    model_class = import_class(class_path)
    for path, kind in ACCUMULATE_CLASSES.items():
        if issubclass(model_class, import_class(path)):
            return kind
    return None


def check_continual(config: dict[str, Any]) -> None:
    """Every continual setting that cannot run, as a ConfigError naming its key, before any job."""
    section = config.get("continual") or {}
    sequences(config)
    models = continual_models(config)
    for model in models:
        if model not in config["models"]:
            raise ConfigError(f"config key 'continual.models': {model!r} is not a key of `models` "
                              f"({', '.join(config['models'])})")
    strategies = section.get("strategies", ["naive"])
    if isinstance(strategies, dict):
        for model in strategies:
            if model not in models:
                raise ConfigError(f"config key 'continual.strategies.{model}': not one of the continual models "
                                  f"({', '.join(models)})")
        for model in models:
            if model not in strategies:
                raise ConfigError(f"config key 'continual.strategies': no strategies for model {model!r} (give it "
                                  "some, or leave it out of continual.models)")
    for model in models:
        if "accumulate" in strategies_of(config, model) and accumulate_kind(config, model) is None:
            raise ConfigError(f"config key 'continual.strategies': `accumulate` keeps a memory bank, which only "
                              f"PatchCore and PaDiM have; model {model!r} cannot (use naive or joint)")


def step_jobs(config: dict[str, Any]) -> list[StepJob]:
    """Every training step of a validated config, in a stable order."""
    return [StepJob(name, model, seed, strategy, step)
            for name, sequence in sequences(config).items()
            for model in continual_models(config)
            for seed in config["seeds"]
            for strategy in strategies_of(config, model)
            for step in range(1, len(sequence.tasks) + 1)]


def evaluation_jobs(config: dict[str, Any]) -> list[EvaluationJob]:
    """One evaluation per training step and category seen by then."""
    found = sequences(config)
    return [EvaluationJob(*job, category) for job in step_jobs(config) for category in found[job.sequence].seen(job.step)]


def step_config(config: dict[str, Any], job: StepJob) -> dict[str, Any]:
    """What can change a step's model and predictions (its hash is checked at evaluation, like a job's)."""
    sequence = sequences(config)[job.sequence]
    return {
        "dataset": dataset_source(config["datasets"][sequence.dataset]),
        "tasks": [list(task) for task in sequence.tasks[:job.step]],
        "model": {job.model: config["models"][job.model]},
        "seed": job.seed, "strategy": job.strategy, "step": job.step,
        "image_size": model_image_size(config, job.model),
        "weights": config["weights"],
    }
