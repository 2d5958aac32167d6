"""Everything iadbench knows about each model: one :class:`ModelSpec` per model, in :data:`MODEL_SPECS`.

anomalib's ``models/image/<name>/`` is the anchor: the config name is anomalib's snake-case name and
``class_path`` its class. The registry (:mod:`iadbench.models`), training (task type), random weights
(:mod:`iadbench.models.random_weights`), pretrained assets (:mod:`iadbench.models.assets`), cluster requests
(``workflow/rules/train.smk``) and the per-model table of ``docs/models.md`` (:mod:`iadbench.models.docs`)
all read it. Adding an anomalib model is one entry here (plus, when it loads weights somewhere the generic
patches miss, a hook in :mod:`iadbench.models.hooks`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iadbench.models import hooks

# Cluster memory request of each resource class (MB, first attempt): memory-bank models keep every
# training patch's features in RAM before subsampling.
MEMORY_CLASS_MB = {"memory-bank": 48_000, "standard": 16_000}


@dataclass(frozen=True)
class ModelSpec:
    name: str  # anomalib's snake-case name: the config key and the results' `model`
    class_path: str
    display_name: str  # as papers print it
    study: bool = False  # one of the study's 15 models
    task_type: str | None = None  # segmentation / classification / detection; None: from its outputs
    backbone: str = ""  # default backbone (docs)
    pretrained_loads: str = ""  # what `weights: pretrained` needs (docs)
    random_weights: str = "pre_trained=False where the model has it; the generic timm/torchvision guards."
    memory_class: str = "standard"  # cluster request class (MEMORY_CLASS_MB)
    runtime_minutes: int = 180  # cluster wall time, first attempt, paper-size training
    minimum_image_size: int = 16
    image_size_rule: str = ""  # why the minimum, or how the size is handled (docs, errors)
    tiny_run_memory: str = ""  # measured peak RSS of one tiny training job (docs)
    random_weights_patches: tuple[hooks.Patch, ...] = ()  # call sites that would load published weights
    keeps_pre_trained: bool = False  # `pre_trained` means "frozen backbone" here: random weights keep it True
    pre_processor: Callable[[type, int], Any] | None = None  # None: anomalib's default for the size
    size_init_args: Callable[[dict[str, Any], int], dict[str, Any]] | None = None  # args tied to the size
    training_time_assets: Callable[[Any, Path], list] | None = None  # weights requested when fit starts
    # Constructor arguments naming the ResNet stage the anomaly map comes from ("layers": its first) and
    # the pooling applied to it: the config check warns when the map would be pooled to 1x1.
    map_layer_argument: str = ""
    map_pooling_argument: str = ""
    video: bool = False  # a video model (anomalib.models.video): trains on clips of a video dataset
    zero_shot: bool = False  # needs no training image of the category: runs under the zero_shot setting only
    pretrained_patches: tuple[hooks.Patch, ...] = ()  # `weights: pretrained`: where a job reads the fetched weights


def _timm(backbone: str, changes: str = "`pre_trained=False`") -> dict[str, str]:
    return {"backbone": f"{backbone} (timm)", "pretrained_loads": "timm ImageNet weights", "random_weights": changes}


_DRAEM_NO_DOWNLOAD = hooks.no_download("anomalib.models.image.draem.lightning_model")
_GLASS_NO_DOWNLOAD = hooks.no_download("anomalib.models.image.glass.lightning_model")
_DSR_NO_DOWNLOAD = hooks.no_download("anomalib.models.image.dsr.lightning_model")
_EFFICIENT_AD_NO_DOWNLOAD = hooks.no_download("anomalib.models.image.efficient_ad.lightning_model")

MODEL_SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    # The study's 15 models.
    ModelSpec("cfa", "anomalib.models.Cfa", "CFA", study=True, task_type="segmentation",
              backbone="wide_resnet50_2 (torchvision)", memory_class="memory-bank", runtime_minutes=120,
              pretrained_loads="torchvision ImageNet weights (hard-coded `DEFAULT`)",
              random_weights="patch: `cfa.torch_model.get_feature_extractor` builds it with `weights=None`",
              tiny_run_memory="S 1.6 GB", random_weights_patches=(hooks.patch_cfa,)),
    ModelSpec("cflow", "anomalib.models.Cflow", "CFLOW", study=True, task_type="segmentation",
              **_timm("wide_resnet50_2, layers 2–4", "`pre_trained=False`: random frozen encoder; the flows train"),
              tiny_run_memory="M 3.8 GB",
              image_size_rule="`fiber_batch_size` ≤ batch × (size/32)²: 64 px with batch 4 needs `fiber_batch_size: 16`"),
    ModelSpec("csflow", "anomalib.models.Csflow", "CS-Flow", study=True, task_type="segmentation",
              backbone="efficientnet_b5 (torchvision), `features.6.8`", runtime_minutes=480,
              pretrained_loads="torchvision `IMAGENET1K_V1` (hard-coded)",
              random_weights="patch: `csflow.torch_model.efficientnet_b5` gets `weights=None`",
              minimum_image_size=128, image_size_rule="features of efficientnet_b5 (stride 32) at 3 scales "
              "(1, 1/2, 1/4) must be >= 1 px", tiny_run_memory="L 8.9 GB (128 px)",
              random_weights_patches=(hooks.patch_csflow,)),
    ModelSpec("dfkde", "anomalib.models.Dfkde", "DFKDE", study=True, task_type="classification",
              **_timm("resnet18, layer4"), memory_class="memory-bank", runtime_minutes=30, tiny_run_memory="S 1.1 GB",
              image_size_rule="n_train ≥ `n_pca_components` (16), else the KDE is never fitted"),
    ModelSpec("dfm", "anomalib.models.Dfm", "DFM", study=True, task_type="segmentation", **_timm("resnet50, layer3"),
              memory_class="memory-bank", runtime_minutes=30, tiny_run_memory="S 1.1 GB",
              image_size_rule="`layer`'s feature map over `pooling_kernel_size` must stay > 1 px (a warning says)",
              map_layer_argument="layer", map_pooling_argument="pooling_kernel_size"),
    ModelSpec("fastflow", "anomalib.models.Fastflow", "FastFlow", study=True, task_type="segmentation",
              **_timm("resnet18", "`pre_trained=False`: random frozen backbone; the flow trains"),
              tiny_run_memory="S 1.2 GB"),
    ModelSpec("rkde", "iadbench.models.rkde.Rkde", "RKDE", study=True, task_type="detection",
              backbone="Faster R-CNN R50-FPN (torchvision) + RKDE's AlexNet-like extractor",
              pretrained_loads="COCO detector weights and anomalib's RKDE extractor weights",
              random_weights="`pre_trained=False`: both random (RKDE's own switch; `region_proposals: grid` is "
              "recommended)", memory_class="memory-bank", runtime_minutes=60, tiny_run_memory="M 2.8 GB"),
    ModelSpec("draem", "anomalib.models.Draem", "DRAEM", study=True, task_type="segmentation",
              backbone="none (two U-Nets trained from scratch)", pretrained_loads="DTD textures (~600 MB download)",
              random_weights="`dtd_dir` → local texture set", runtime_minutes=720, tiny_run_memory="M 3.6 GB",
              random_weights_patches=(_DRAEM_NO_DOWNLOAD,)),
    ModelSpec("dsr", "anomalib.models.Dsr", "DSR", study=True, task_type="segmentation",
              backbone="none; frozen VQ-VAE pretrained by the DSR authors", runtime_minutes=720,
              pretrained_loads="anomalib's `vq_model_pretrained_128_4096.pckl` (loaded at train start)",
              random_weights="patch: the VQ weights are neither downloaded nor loaded, so the frozen VQ-VAE "
              "stays random", tiny_run_memory="S 1.6 GB", random_weights_patches=(_DSR_NO_DOWNLOAD, hooks.patch_dsr),
              training_time_assets=hooks.dsr_training_assets),
    ModelSpec("ganomaly", "anomalib.models.Ganomaly", "GANomaly", study=True, task_type="classification",
              backbone="none (DCGAN encoder/decoder from scratch)", pretrained_loads="nothing",
              random_weights="nothing", tiny_run_memory="S 1.4 GB"),
    ModelSpec("padim", "anomalib.models.Padim", "PaDiM", study=True, task_type="segmentation",
              **_timm("resnet18, layers 1–3"), memory_class="memory-bank", runtime_minutes=30,
              tiny_run_memory="S 1.1 GB", map_layer_argument="layers"),
    ModelSpec("patchcore", "anomalib.models.Patchcore", "PatchCore", study=True, task_type="segmentation",
              **_timm("wide_resnet50_2, layers 2+3"), memory_class="memory-bank", runtime_minutes=60,
              tiny_run_memory="S 1.3 GB", map_layer_argument="layers"),
    ModelSpec("reverse_distillation", "anomalib.models.ReverseDistillation", "RD", study=True,
              task_type="segmentation", **_timm("wide_resnet50_2, layers 1–3", "`pre_trained=False`: random "
                                                "frozen teacher; the student decoder trains"),
              runtime_minutes=480, tiny_run_memory="M 2.8 GB"),
    ModelSpec("stfpm", "anomalib.models.Stfpm", "STFPM", study=True, task_type="segmentation",
              backbone="resnet18 (timm), layers 1–3", runtime_minutes=240, tiny_run_memory="S 1.1 GB",
              pretrained_loads="timm weights for the teacher (anomalib hard-codes `pre_trained=True`)",
              random_weights="patch (timm): the teacher is random, and the student learns to copy it"),
    ModelSpec("uflow", "anomalib.models.Uflow", "U-Flow", study=True, task_type="segmentation",
              backbone="`mcait`: timm cait_m48_448 + cait_s24_224 (422 M parameters)",
              pretrained_loads="timm weights (hard-coded `pretrained=True`)", random_weights="patch (timm): random CaiTs",
              image_size_rule="ignores `image_size`: always 448 px (its pre-processor); maps are resized to the "
              "masks at evaluation", tiny_run_memory="M 4.7 GB (448 px)"),
    # anomalib 2.7's other image models.
    ModelSpec("anomaly_dino", "anomalib.models.AnomalyDINO", "AnomalyDINO", memory_class="memory-bank",
              runtime_minutes=60),
    ModelSpec("anomaly_vfm", "anomalib.models.AnomalyVFM", "AnomalyVFM"),
    ModelSpec("dinomaly", "anomalib.models.Dinomaly", "Dinomaly", task_type="segmentation",
              backbone="vit_base_patch14_reg4_dinov2 (timm)", pretrained_loads="DINOv2 weights (HF hub)",
              random_weights="patch (timm): random ViT", tiny_run_memory="M 3.9 GB (70 px)",
              image_size_rule="a multiple of 14: iadbench resizes to the nearest one (64 → 70, 256 → 252), no crop, "
              "so the map covers the whole image", pre_processor=hooks.dinomaly_pre_processor),
    ModelSpec("efficient_ad", "anomalib.models.EfficientAd", "EfficientAD", task_type="segmentation",
              backbone="PDN teacher, small (distilled from WideResNet-101 by the authors)", runtime_minutes=480,
              pretrained_loads="anomalib's teacher weights and ImageNette (~1.5 GB), both at train start",
              random_weights="patch: teacher not loaded (random); `imagenet_dir` → local texture set",
              minimum_image_size=256, image_size_rule="the autoencoder halves 5 times, then applies an 8x8 kernel; "
              "`train_batch_size: 1`", tiny_run_memory="S 1.8 GB (256 px)",
              random_weights_patches=(_EFFICIENT_AD_NO_DOWNLOAD, hooks.patch_efficient_ad),
              training_time_assets=hooks.efficient_ad_training_assets),
    ModelSpec("found_ad", "anomalib.models.FoundAD", "FoundAD"),
    ModelSpec("fre", "anomalib.models.Fre", "FRE"),
    ModelSpec("general_ad", "anomalib.models.GeneralAD", "GeneralAD"),
    ModelSpec("glass", "anomalib.models.Glass", "GLASS", task_type="segmentation",
              **_timm("wide_resnet50_2, layers 2+3", "patch (timm): random frozen backbone. `pre_trained` stays "
                      "`true` because anomalib 2.7's `false` path crashes (`'str' object has no attribute "
                      "'parameters'`). `anomaly_source_path` → local texture set"),
              tiny_run_memory="S 1.4 GB", image_size_rule="`input_shape` = image size (GLASS sizes its maps to it)",
              random_weights_patches=(_GLASS_NO_DOWNLOAD,), keeps_pre_trained=True,
              size_init_args=hooks.glass_input_shape),
    ModelSpec("inp_former", "anomalib.models.InpFormer", "INP-Former"),
    ModelSpec("l2bt", "anomalib.models.L2BT", "L2BT"),
    ModelSpec("mh_patchcore", "anomalib.models.MHPatchcore", "MH-PatchCore", memory_class="memory-bank",
              runtime_minutes=60),
    ModelSpec("patchflow", "anomalib.models.Patchflow", "PatchFlow"),
    ModelSpec("rad", "anomalib.models.Rad", "RAD"),
    ModelSpec("super_add", "anomalib.models.SuperADD", "SuperADD"),
    ModelSpec("supersimplenet", "anomalib.models.Supersimplenet", "SuperSimpleNet", task_type="segmentation",
              backbone="wide_resnet50_2.tv_in1k (timm), layers 2+3", pretrained_loads="timm/HF weights (hard-coded)",
              random_weights="patch (timm)", minimum_image_size=128,
              image_size_rule="Perlin masks on the 1/4-size feature map need >= 32 px", tiny_run_memory="S 1.6 GB (128 px)"),
    ModelSpec("uninet", "anomalib.models.UniNet", "UniNet", task_type="segmentation",
              backbone="wide_resnet50_2 teachers (torchvision) + student decoder",
              pretrained_loads="torchvision ImageNet weights (hard-coded `DEFAULT`)",
              random_weights="patch: `Teachers._get_teacher` builds with `weights=None`", tiny_run_memory="M 4.5 GB",
              random_weights_patches=(hooks.patch_uninet,)),
    ModelSpec("vlm_ad", "anomalib.models.VlmAd", "VLM-AD"),
    ModelSpec("winclip", "anomalib.models.WinClip", "WinCLIP", task_type="segmentation", zero_shot=True,
              backbone="open_clip ViT-B-16-plus-240 (208 M parameters), image and text towers, frozen",
              pretrained_loads="open_clip `laion400m_e31` (a GitHub release file, sha256 prefix in its name)",
              random_weights="patch: open_clip builds the CLIP with `pretrained=None`; its downloads refuse",
              runtime_minutes=60, image_size_rule="ignores `image_size`: always 240 px (its pre-processor; the "
              "CLIP's positional embedding); zero-shot only: the category name is its prompt, `k_shot` 0",
              random_weights_patches=(hooks.patch_winclip,), pretrained_patches=(hooks.open_clip_from_cache,)),
    # anomalib 2.7's video models (the video track: video datasets only).
    ModelSpec("ai_vad", "anomalib.models.AiVad", "AI-VAD", task_type="segmentation", video=True,
              backbone="Mask R-CNN R50-FPN v2 (regions) + RAFT large (flow) + Keypoint R-CNN (pose) + CLIP ViT-B/16 "
              "(deep features), all torchvision/CLIP, frozen", memory_class="memory-bank", runtime_minutes=600,
              pretrained_loads="COCO Mask R-CNN v2, RAFT large (FlyingThings/Sintel), COCO Keypoint R-CNN, OpenAI "
              "CLIP ViT-B/16",
              random_weights="patch: the four networks built with random weights. The random Mask R-CNN still "
              "returns confident-looking boxes at arbitrary places (34 above `box_score_thresh` 0.7 on a 64 px "
              "embedded frame), so regions are those plus the foreground detections (frame differences)",
              image_size_rule="ignores `image_size`: no pre-processor transform (its networks resize frames "
              "themselves: RAFT to 520x960, the R-CNNs to 800 px); maps have the frames' size",
              tiny_run_memory="M 4.4 GB (64 px frames, batch 1; 8.6 GB at batch 4)",
              random_weights_patches=(hooks.patch_ai_vad,)),
    ModelSpec("fuvas", "anomalib.models.Fuvas", "FUVAS", task_type="segmentation", video=True,
              backbone="x3d_s (pytorchvideo via torch.hub), `blocks.4`; or swin3d_b (torchvision), `features.6.1`",
              memory_class="memory-bank", runtime_minutes=120,
              pretrained_loads="pytorchvideo Kinetics weights and code (torch.hub, GitHub) or torchvision Swin3D-B "
              "(hard-coded KINETICS400_IMAGENET22K_V1)",
              random_weights="patch: swin3d_b with `weights=None`; the torch.hub backbones (x3d_*, i3d_r50) are "
              "refused: use `backbone: swin3d_b, layer: features.6.1`",
              image_size_rule="frames resized to `image_size`; swin3d_b's last stage has stride 32",
              minimum_image_size=32, tiny_run_memory="S 1.8 GB (64 px)", random_weights_patches=(hooks.patch_fuvas,)),
)}
STUDY_MODELS = tuple(name for name, spec in MODEL_SPECS.items() if spec.study)
VIDEO_MODELS = tuple(name for name, spec in MODEL_SPECS.items() if spec.video)


@functools.cache
def _import(class_path: str) -> type | None:
    module_name, _, class_name = class_path.rpartition(".")
    with contextlib.suppress(ImportError, AttributeError):
        return getattr(importlib.import_module(module_name), class_name)
    return None


def spec_for_class(model_class: type, name: str | None = None) -> ModelSpec:
    """The spec of the registered class nearest up ``model_class``'s MRO (a subclass of Padim gets
    PaDiM's patches and rules); a class unrelated to any registered model gets a generic spec."""
    classes = {spec.class_path: _import(spec.class_path) for spec in MODEL_SPECS.values()}
    for klass in model_class.__mro__:
        for spec in MODEL_SPECS.values():
            if classes[spec.class_path] is klass:
                return spec
    class_path = f"{model_class.__module__}.{model_class.__qualname__}"
    return ModelSpec(name or model_class.__name__, class_path, model_class.__name__)


def spec_of(name: str, class_path: str | None = None) -> ModelSpec:
    """The spec of a configured model: by registry name, or by its ``class_path``'s class."""
    if not class_path:
        if name not in MODEL_SPECS:
            known = ", ".join(sorted(MODEL_SPECS))
            raise ValueError(f"config key 'models.{name}': unknown model {name!r} (known: {known}; "
                             "or give 'class_path')")
        return MODEL_SPECS[name]
    model_class = _import(class_path)
    return spec_for_class(model_class, name) if model_class else ModelSpec(name, class_path, name)


def train_mem_mb(model: str, attempt: int = 1, categories: int = 1) -> int:
    """RAM to ask the scheduler for (by config name; other names: the standard class); grows with each retry.
    ``categories``: categories in the training set (the unified setting): a memory bank grows with its images."""
    spec = MODEL_SPECS.get(model)
    memory_class = spec.memory_class if spec else "standard"
    scale = categories if memory_class == "memory-bank" else 1
    return MEMORY_CLASS_MB[memory_class] * scale * attempt


def train_runtime_minutes(model: str, attempt: int = 1, categories: int = 1) -> int:
    """Wall time to ask the scheduler for; grows with each retry and with the categories trained on."""
    spec = MODEL_SPECS.get(model)
    return (spec.runtime_minutes if spec else ModelSpec.runtime_minutes) * categories * attempt
