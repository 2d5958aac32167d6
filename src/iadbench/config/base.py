"""Configuration: its errors, the jobs it expands to, per-job settings and the config hash (reading and
validating a config: :mod:`iadbench.config.load`)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, NamedTuple

from iadbench.config.settings import ALL_CATEGORIES, DEFAULT_SETTING, ZERO_SHOT, setting_models, setting_names
from iadbench.datasets import dataset_categories
from iadbench.datasets.prepare import is_video
from iadbench.models.registry import is_video_model, is_zero_shot_model, resolve_class_path
from iadbench.models.specs import VIDEO_MODELS


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the offending key."""


class Job(NamedTuple):
    dataset: str
    category: str
    model: str
    seed: int
    setting: str = DEFAULT_SETTING  # iadbench.config.settings: one_class, unified, few_shot_k<k>, noisy_r<ratio>

    @property
    def path(self) -> str:
        """The job's part of every result path: ``results/<stage>/<setting>/<dataset>/<category>/<model>/<seed>``."""
        return f"{self.setting}/{self.dataset}/{self.category}/{self.model}/{self.seed}"

    @property
    def training(self) -> Job:
        """The training job whose model this job evaluates: itself, or (unified) the dataset's one over
        every category (category :data:`ALL_CATEGORIES`)."""
        return self._replace(category=ALL_CATEGORIES) if self.setting == "unified" else self


def training_files(job: Job, results: str = "results") -> dict[str, str]:
    """The predictions and record an evaluation (or gallery) job reads: its training job's; unified: its
    category's files in the dataset's one training job (``predictions/<category>.npz`` and ``.json``)."""
    folder = f"{results}/train/{job.training.path}"
    if job.setting == "unified":
        return {"predictions": f"{folder}/predictions/{job.category}.npz", "info": f"{folder}/predictions/{job.category}.json"}
    return {"predictions": f"{folder}/predictions.npz", "info": f"{folder}/train_info.json"}


def training_outputs(job: Job, results: str = "results") -> dict[str, str]:
    """:func:`training_files` as the training job declares them (unified: its ``predictions/`` folder)."""
    if job.setting == "unified":
        folder = f"{results}/train/{job.training.path}"
        return {"predictions": f"{folder}/predictions", "info": f"{folder}/train_info.json"}
    return training_files(job, results)


def jobs(config: dict[str, Any]) -> list[Job]:
    """Every setting x dataset x category x model x seed of a validated config, in a stable order; video models
    (ai_vad, fuvas, ...) pair with video datasets only, image models with image datasets only. The settings
    (iadbench.config.settings) other than one-class run on image datasets only; zero_shot runs the zero-shot
    models (WinCLIP), the other settings every other model."""
    video_models = {model for model, spec in config["models"].items() if is_video_model(model, spec.get("class_path"))}
    zero_shot = zero_shot_models(config)
    return [
        Job(dataset, category, model, seed, setting)
        for setting in setting_names(config)
        for dataset, spec in config["datasets"].items()
        if setting == DEFAULT_SETTING or not is_video(spec)
        for category in dataset_categories(spec)
        for model in setting_models(setting, zero_shot)
        if (model in video_models) == is_video(spec)
        for seed in config["seeds"]
    ]


def zero_shot_models(config: dict[str, Any]) -> dict[str, bool]:
    """Each configured model → whether it needs no training image of the category (the zero_shot setting's)."""
    return {model: is_zero_shot_model(model, spec.get("class_path")) for model, spec in config["models"].items()}


# WinCLIP's arguments that the zero_shot job sets (the category's name as the prompt) or that need training
# images (k_shot reference images): one model entry runs every category, zero-shot.
ZERO_SHOT_FIXED_ARGS = {"class_name": None, "k_shot": 0, "few_shot_source": None}


def check_settings(config: dict[str, Any]) -> None:
    """Every model runs under one of the configured settings: a zero-shot model (WinCLIP) under zero_shot only,
    every other model under the others; a zero-shot model's entry leaves its prompt and shots to the job."""
    names = setting_names(config)
    zero_shot = zero_shot_models(config)
    for model, spec in config["models"].items():
        if zero_shot[model] and ZERO_SHOT not in names:
            raise ConfigError(f"config key 'models.{model}': a zero-shot model (no training images of the "
                              f"category) runs under the zero_shot setting only; add zero_shot to 'setting' "
                              f"(now: {', '.join(names)})")
        if not zero_shot[model] and names == [ZERO_SHOT]:
            capable = ", ".join(name for name, capable in zero_shot.items() if capable) or "none configured"
            raise ConfigError(f"config key 'models.{model}': setting zero_shot runs models that need no training "
                              f"image of the category (zero-shot models: {capable}), and {model} "
                              f"({resolve_class_path(model, spec.get('class_path'))}) is not one; remove it or "
                              "add another setting")
        if zero_shot[model]:
            for argument, value in ZERO_SHOT_FIXED_ARGS.items():
                if spec.get("init_args", {}).get(argument, value) != value:
                    raise ConfigError(f"config key 'models.{model}.init_args.{argument}': the zero_shot job "
                                      "sets the prompt to the category's name and uses no reference image; "
                                      "leave it unset")


def check_tracks(config: dict[str, Any]) -> None:
    """Every dataset needs a model of its track (image or video), or it would silently get no job."""
    video_models = [model for model, spec in config["models"].items() if is_video_model(model, spec.get("class_path"))]
    image_models = [model for model in config["models"] if model not in video_models]
    for name, spec in config["datasets"].items():
        if is_video(spec) and not video_models:
            raise ConfigError(f"config key 'datasets.{name}': a video dataset ({spec.get('type')}) needs a video "
                              f"model in `models` ({', '.join(VIDEO_MODELS)}); image models do not run on it")
        if not is_video(spec) and not image_models:
            raise ConfigError(f"config key 'datasets.{name}': an image dataset needs an image model in `models` "
                              f"(video models {', '.join(video_models)} do not run on it)")


def model_image_size(config: dict[str, Any], model: str) -> int:
    """The model's own ``image_size`` when it has one, else the top-level one."""
    return config["models"][model].get("image_size", config["image_size"])


def config_hash(config: dict[str, Any]) -> str:
    """A short hash of a (validated) config; rows record it so results trace back to it."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def dataset_source(spec: dict[str, Any]) -> dict[str, Any]:
    """A dataset entry without its category list: what one category's data depends on."""
    return {key: value for key, value in spec.items() if key != "categories"}


def train_config(config: dict[str, Any], job: Job) -> dict[str, Any]:
    """What can change one job's trained model and predictions: editing anything else (another model,
    another category in `categories:`, another seed) redoes nothing of this job."""
    spec = config["datasets"][job.dataset]
    return {
        "dataset": dataset_source(spec),
        # unified: its model is trained on every configured category's images
        "category": dataset_categories(spec) if job.setting == "unified" else job.category,
        "setting": job.setting,
        "model": {job.model: config["models"][job.model]},
        "seed": job.seed,
        "image_size": model_image_size(config, job.model),
        "weights": config["weights"],
        "operating_point": holdout_settings(config),
    }


HOLDOUT_KEYS = ("holdout_share", "holdout_min")


def holdout_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The operating point's training side: which training images are held out to calibrate it
    (:mod:`iadbench.datasets.holdout`); the rest of ``operating_point`` only changes the evaluation."""
    settings = config.get("operating_point") or {}
    return {key: settings[key] for key in HOLDOUT_KEYS if key in settings}


def job_config(config: dict[str, Any], job: Job) -> dict[str, Any]:
    """What can change one job's row: its training and the evaluation settings (its hash goes in the row)."""
    return {**train_config(config, job), "evaluation": config["evaluation"], "timing": config["timing"],
            "operating_point": config.get("operating_point", {})}
