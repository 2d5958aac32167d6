"""The video track in the config (keys, job pairing) and its models under `weights: random`."""

import copy

import pytest
import torch

from iadbench.config.base import ConfigError, jobs
from iadbench.config.load import load_config, validate_config
from iadbench.core.offline import DownloadForbiddenError, network_forbidden
from iadbench.models.registry import is_video_model


@pytest.fixture
def schema_path(repo_root):
    return repo_root / "workflow" / "schemas" / "config.schema.yaml"


VIDEO = {"type": "embedded_video", "generator": {"n_train_videos": 1}, "clip_length_in_frames": 3,
         "frames_between_clips": 2}


def test_video_yaml_validates_and_plans_one_job_per_video_model(repo_root):
    config = load_config(repo_root / "config" / "video.yaml", repo_root / "workflow" / "schemas" / "config.schema.yaml")
    assert [(job.dataset, job.model) for job in jobs(config)] == [("embedded_video", "ai_vad"),
                                                                  ("embedded_video", "fuvas")]
    assert config["weights"] == "random"


def test_video_models_pair_with_video_datasets_only(schema_path):
    config = validate_config({"datasets": {"images": {"categories": ["brick"]}, "video": copy.deepcopy(VIDEO)},
                              "models": {"padim": {}, "ai_vad": {},
                                         "my_vad": {"class_path": "anomalib.models.video.Fuvas"}}}, schema_path)
    assert sorted((job.dataset, job.model) for job in jobs(config)) == [
        ("images", "padim"), ("video", "ai_vad"), ("video", "my_vad")]
    # Clip keys are not filled into image dataset entries (their config hash must not change).
    assert "clip_length_in_frames" not in config["datasets"]["images"]
    assert "n_train_videos" not in config["datasets"]["images"]["generator"]


@pytest.mark.parametrize(("datasets", "models", "message"), [
    ({"video": VIDEO}, {"padim": {}}, "'datasets.video': a video dataset .* needs a video model"),
    ({"images": {}}, {"fuvas": {}}, "'datasets.images': an image dataset needs an image model"),
    ({"video": {**VIDEO, "frames_between_clips": 0}}, {"fuvas": {}}, "frames_between_clips"),
    ({"video": {**VIDEO, "generator": {"frames_per_video": 2}}}, {"fuvas": {}}, "frames_per_video"),
])
def test_a_dataset_without_a_model_of_its_track_or_bad_clip_keys_are_refused(schema_path, datasets, models, message):
    with pytest.raises(ConfigError, match=message):
        validate_config({"datasets": copy.deepcopy(datasets), "models": models}, schema_path)


def test_video_models_by_name_or_class_path():
    assert is_video_model("ai_vad") and is_video_model("fuvas")
    assert is_video_model("x", "anomalib.models.video.ai_vad.AiVad") and not is_video_model("padim")
    assert not is_video_model("mine", "anomalib.models.Padim")


def test_fuvas_torch_hub_backbones_are_refused_with_the_remedy(tmp_path):
    from iadbench.models.build import build_model
    from iadbench.models.random_weights import random_weights_patches

    with network_forbidden("weights: random"), random_weights_patches("fuvas"), torch.device("meta"):
        with pytest.raises(DownloadForbiddenError, match="backbone: swin3d_b"):
            build_model("fuvas", {"init_args": {}}, 64, "random", tmp_path)
        model = build_model("fuvas", {"init_args": {"backbone": "swin3d_b", "layer": "features.6.1"}}, 64, "random",
                            tmp_path)
    assert sum(parameter.numel() for parameter in model.parameters()) > 80_000_000


def test_ai_vad_builds_its_four_networks_without_weights(tmp_path):
    from iadbench.models.build import build_model
    from iadbench.models.random_weights import random_weights_patches

    with network_forbidden("weights: random"), random_weights_patches("ai_vad"):  # CLIP moves itself to a device
        model = build_model("ai_vad", {"init_args": {}}, 64, "random", tmp_path)
    assert model.model.feature_extractor.deep_extractor.encoder.visual.input_resolution == 224
    assert sum(parameter.numel() for parameter in model.parameters()) > 250_000_000


def test_ai_vad_scores_a_frame_without_regions_with_an_empty_map():
    """anomalib 2.7's AI-VAD crashes (torch.amax over zero regions) on a frame where nothing is detected and
    nothing moves; iadbench's forward gives it an all-zero map and anomalib's empty-frame score, 0."""
    from iadbench.models.hooks import ai_vad_forward

    class Stage(torch.nn.Module):
        def __init__(self, output):
            super().__init__()
            self.output = output

        def forward(self, *args):
            return self.output

    masks = [torch.zeros(0, 1, 4, 6), torch.ones(2, 1, 4, 6)]
    model = torch.nn.Module()
    model.flow_extractor = Stage(torch.zeros(2, 2, 4, 6))
    model.region_extractor = Stage([{"masks": mask} for mask in masks])
    model.feature_extractor = Stage([{}, {}])
    scores = iter([(torch.zeros(0), torch.tensor(0.0)), (torch.tensor([0.5, 2.0]), torch.tensor(2.0))])
    model.density_estimator = lambda features: next(scores)
    model.eval()
    output = ai_vad_forward(model, torch.rand(2, 2, 3, 4, 6))
    assert output.pred_score.tolist() == [0.0, 2.0]
    assert output.anomaly_map.shape == (2, 1, 4, 6)
    assert output.anomaly_map[0].eq(0).all() and output.anomaly_map[1].eq(2.0).all()
