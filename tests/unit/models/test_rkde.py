"""RKDE (iadbench.models.rkde): regions, features, KDE scores, maps, and a tiny Engine run, all offline."""

from __future__ import annotations

import socket
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from iadbench.models.rkde import RegionProposals, Rkde, RkdeModel, RoiStage, grid_boxes
from iadbench.models.rkde.anomaly_map import box_pixel_bounds, paint_region_scores
from iadbench.models.rkde.feature_extractor import WEIGHTS_URL
from iadbench.models.rkde.region_extractor import RegionExtractor
from iadbench.models.rkde.torch_model import leading_right_singular_vectors

IMAGE_SIZE = 64


class NetworkUsedError(AssertionError):
    """A test that must stay offline tried to reach the network or a weights loader."""


@pytest.fixture
def offline(monkeypatch):
    """Any socket connection, name lookup or weights download raises."""

    def refuse(*args, **kwargs):
        raise NetworkUsedError(f"network/weights access attempted: {args[1:] or args} {kwargs}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    import torchvision.models._api

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", refuse)


def smooth_images(count: int, seed: int, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Low-contrast, smooth random textures in [0, 1] (the 'normal' images)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, size // 8, size // 8, generator=generator)
    images = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    noise = 0.03 * torch.randn(count, 3, size, size, generator=generator)
    return (0.4 + 0.2 * images + noise).clamp(0, 1)


def add_defect(images: torch.Tensor, y: int = 40, x: int = 40, side: int = 14) -> torch.Tensor:
    """A bright, high-contrast checkered square: far from anything in the normal images."""
    images = images.clone()
    checker = (torch.arange(side)[:, None] // 2 + torch.arange(side)[None, :] // 2) % 2
    images[:, :, y : y + side, x : x + side] = checker.float()
    return images


@pytest.fixture(scope="module")
def fitted_grid_model() -> RkdeModel:
    torch.manual_seed(0)
    model = RkdeModel(pre_trained=False, region_proposals="grid")
    model.train()
    model(smooth_images(6, seed=1))
    model(smooth_images(6, seed=2))
    model.fit()
    return model.eval()


@pytest.fixture(scope="module")
def random_rcnn_extractor() -> RegionExtractor:
    torch.manual_seed(0)
    return RegionExtractor(pre_trained=False, detector_min_size=IMAGE_SIZE, detector_max_size=IMAGE_SIZE).eval()


# --- grid regions and map painting ---------------------------------------------------------------------


def test_grid_boxes_cover_the_image_with_half_overlapping_windows():
    boxes = grid_boxes(64, 96, grid_size=4)
    assert boxes.shape == (49, 4)
    assert torch.equal(boxes[0], torch.tensor([0.0, 0.0, 24.0, 16.0]))
    assert torch.equal(boxes[-1], torch.tensor([72.0, 48.0, 96.0, 64.0]))
    assert torch.equal(grid_boxes(10, 20, grid_size=1), torch.tensor([[0.0, 0.0, 20.0, 10.0]]))
    capped = grid_boxes(64, 64, grid_size=4, max_boxes=10)
    assert capped.shape == (10, 4)
    assert torch.equal(capped[0], grid_boxes(64, 64)[0]) and torch.equal(capped[-1], grid_boxes(64, 64)[-1])
    with pytest.raises(ValueError, match="grid_size"):
        grid_boxes(64, 64, grid_size=0)


def test_map_painting_fills_boxes_takes_max_on_overlap_and_zero_elsewhere():
    boxes = [torch.tensor([[0.0, 0.0, 4.0, 4.0], [2.0, 2.0, 6.0, 6.0], [5.5, 0.2, 7.5, 1.0]]), torch.empty(0, 4)]
    scores = [torch.tensor([0.3, 0.7, 0.5]), torch.empty(0)]
    maps = paint_region_scores(boxes, scores, (8, 8))
    assert maps.shape == (2, 8, 8)
    first = maps[0]
    assert torch.all(first[0:2, 0:4] == 0.3) and torch.all(first[2:4, 0:2] == 0.3)
    assert torch.all(first[2:6, 2:6] == 0.7)  # the overlap [2:4, 2:4] takes the larger score
    assert torch.all(first[0, 6:8] == 0.5) and first[0, 5] == 0.5  # fractional box: every touched pixel
    assert first[1, 6] == 0.0
    assert first[7, 7] == 0.0 and first[6, 0] == 0.0
    assert torch.all(maps[1] == 0.0)  # no region: background


def test_map_painting_clips_boxes_to_the_image():
    assert box_pixel_bounds([-3.0, -3.0, 2.0, 50.0], 8, 8) == (0, 8, 0, 2)
    maps = paint_region_scores([torch.tensor([[10.0, 10.0, 20.0, 20.0], [6.0, 6.0, 30.0, 30.0]])],
                               [torch.tensor([0.9, 0.4])], (8, 8))
    assert maps[0, 6:, 6:].eq(0.4).all() and maps[0, :6].eq(0).all()


# --- region extractor ------------------------------------------------------------------------------------


def test_grid_proposals_build_no_detector():
    extractor = RegionExtractor(pre_trained=False, region_proposals="grid", grid_size=2)
    assert extractor.faster_rcnn is None
    regions = extractor(torch.rand(3, 3, 32, 48))
    assert len(regions) == 3 and all(torch.equal(boxes, grid_boxes(32, 48, 2)) for boxes in regions)


def test_random_detector_regions_are_filtered_and_inside_the_image(random_rcnn_extractor):
    regions = random_rcnn_extractor(torch.rand(2, 3, IMAGE_SIZE, IMAGE_SIZE))
    assert len(regions) == 2
    for boxes in regions:
        assert 1 <= boxes.shape[0] <= 100
        assert boxes.min() >= 0 and boxes.max() <= IMAGE_SIZE


def test_images_without_detector_regions_fall_back_to_the_grid(random_rcnn_extractor, monkeypatch):
    extractor = random_rcnn_extractor
    batch = torch.rand(3, 3, IMAGE_SIZE, IMAGE_SIZE)
    detected = [torch.tensor([[0.0, 0.0, 40.0, 40.0]]), torch.empty(0, 4), torch.tensor([[1.0, 1.0, 3.0, 3.0]])]
    scores = [torch.tensor([0.9]), torch.empty(0), torch.tensor([0.8])]
    monkeypatch.setattr(extractor, "detect", lambda _: (detected, scores))
    regions = extractor(batch)
    assert torch.equal(regions[0], detected[0])
    assert torch.equal(regions[1], grid_boxes(IMAGE_SIZE, IMAGE_SIZE))  # nothing detected
    assert torch.equal(regions[2], grid_boxes(IMAGE_SIZE, IMAGE_SIZE))  # only a box below min_box_size
    assert extractor.last_fallback_count == 2


def test_rpn_stage_regions_are_rescaled_to_the_input(random_rcnn_extractor, monkeypatch):
    monkeypatch.setattr(random_rcnn_extractor, "stage", RoiStage.RPN)
    boxes, scores = random_rcnn_extractor.detect(torch.rand(1, 3, 32, 48))
    assert boxes[0].shape[0] > 0 and scores[0].shape == boxes[0].shape[:1]
    assert boxes[0][:, 0::2].max() <= 48 + 1e-3 and boxes[0][:, 1::2].max() <= 32 + 1e-3


# --- torch model ------------------------------------------------------------------------------------------


def test_torch_model_shapes(fitted_grid_model):
    model = fitted_grid_model
    model.train()
    try:
        features = model(torch.rand(2, 3, IMAGE_SIZE, IMAGE_SIZE))
    finally:
        model.memory_bank = []
        model.eval()
    assert features.shape == (2 * 49, 4096)
    output = model(torch.rand(3, 3, IMAGE_SIZE, IMAGE_SIZE))
    assert output.pred_score.shape == (3,)
    assert output.anomaly_map.shape == (3, IMAGE_SIZE, IMAGE_SIZE)
    assert torch.all(output.pred_score > 0)
    # the image score is the maximum region score, which is also the maximum of the painted map
    assert torch.allclose(output.pred_score, output.anomaly_map.amax(dim=(1, 2)))


def test_kde_scores_out_of_distribution_regions_higher(fitted_grid_model):
    normal = smooth_images(3, seed=3)
    defective = add_defect(normal)
    normal_out, defective_out = fitted_grid_model(normal), fitted_grid_model(defective)
    assert torch.all(defective_out.pred_score > normal_out.pred_score)
    maps = defective_out.anomaly_map
    # regions on the defect score higher than regions far from it (top-left corner)
    assert torch.all(maps[:, 46, 46] > maps[:, 5, 5])
    assert torch.all(maps[:, 46, 46] > normal_out.anomaly_map[:, 46, 46])


def test_kde_classifier_on_synthetic_features():
    """Region features on a 4-d subspace: points far from the training cloud score higher."""
    torch.manual_seed(0)
    basis = torch.linalg.qr(torch.randn(4096, 4)).Q.T  # 4 orthonormal directions

    def features(count: int, shift: float = 0.0) -> torch.Tensor:
        return (torch.randn(count, 4) + shift) @ basis + 0.01 * torch.randn(count, 4096)

    model = RkdeModel(pre_trained=False, region_proposals="grid", n_pca_components=4)
    model.memory_bank = [features(200), features(100)]
    model.fit()
    assert model.memory_bank == []
    inlier_scores = model.classifier(features(20))
    outlier_scores = model.classifier(features(20, shift=6.0))
    assert outlier_scores.min() > inlier_scores.max()


@pytest.mark.parametrize("shape", [(30, 50), (80, 20)])
def test_gram_pca_components_match_the_svd_up_to_sign(shape):
    torch.manual_seed(0)
    matrix = torch.randn(*shape) * torch.linspace(3, 0.1, shape[1])
    matrix -= matrix.mean(dim=0)
    vectors = leading_right_singular_vectors(matrix, 5)
    reference = torch.linalg.svd(matrix.double(), full_matrices=False)[-1][:5].T
    assert torch.allclose(vectors.double().abs(), reference.abs(), atol=1e-4)


def test_fit_needs_enough_regions():
    model = RkdeModel(pre_trained=False, region_proposals="grid")
    with pytest.raises(ValueError, match="empty"):
        model.fit()
    model.memory_bank = [torch.randn(5, 4096)]
    with pytest.raises(ValueError, match="n_pca_components"):
        model.fit()


def test_same_seed_gives_identical_scores():
    outputs = []
    for _ in range(2):
        torch.manual_seed(7)
        model = RkdeModel(pre_trained=False, region_proposals="grid", max_training_points=60)
        model.train()
        model(smooth_images(4, seed=1))  # 196 regions, subsampled (randomly) to 60
        model.fit()
        outputs.append(model.eval()(add_defect(smooth_images(2, seed=5))))
    assert torch.equal(outputs[0].pred_score, outputs[1].pred_score)
    assert torch.equal(outputs[0].anomaly_map, outputs[1].anomaly_map)


# --- lightning module -------------------------------------------------------------------------------------


def test_lightning_module_api(offline):
    from anomalib import LearningType
    from torchvision.transforms.v2 import Normalize

    model = Rkde(pre_trained=False, region_proposals="grid", evaluator=False, visualizer=False)
    assert model.learning_type == LearningType.ONE_CLASS
    assert model.trainer_arguments["max_epochs"] == 1
    assert model.configure_optimizers() is None
    transform = Rkde.configure_pre_processor(image_size=(64, 64)).transform
    assert not any(isinstance(step, Normalize) for step in transform.transforms)  # networks normalise
    assert transform(torch.rand(3, 100, 120)).shape == (3, 64, 64)
    assert model.model.region_extractor.region_proposals == RegionProposals.GRID
    assert set(Rkde.checkpoint_safe_globals()) >= {RoiStage, RegionProposals}


def test_random_weights_build_both_networks_offline(offline):
    torch.manual_seed(0)
    model = Rkde(pre_trained=False, detector_min_size=IMAGE_SIZE, detector_max_size=IMAGE_SIZE,
                 evaluator=False, visualizer=False)
    assert model.model.region_extractor.faster_rcnn is not None


def test_pretrained_weights_are_requested(monkeypatch):
    requested = []

    def fake_loader(url, *args, **kwargs):
        requested.append(url)
        raise NetworkUsedError(url)

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_loader)
    with pytest.raises(NetworkUsedError):
        Rkde(pre_trained=True, region_proposals="grid", evaluator=False, visualizer=False)
    assert requested == [WEIGHTS_URL]


def test_benchmark_registry_builds_rkde_with_random_weights(offline):
    from iadbench.models.build import build_model

    model = build_model("rkde", {"init_args": {"region_proposals": "grid"}}, IMAGE_SIZE, "random")
    assert isinstance(model, Rkde) and model.hparams["pre_trained"] is False


# --- end to end: Engine + MVTecAD layout, random weights, offline --------------------------------------


def write_mvtec_category(root: Path, category: str = "widget") -> Path:
    """A tiny MVTec AD-layout category of 64 x 64 PNGs: 6 train, 3 good and 3 defective test images."""

    def save(tensor: torch.Tensor, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((tensor.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(path)

    base = root / category
    for index, image in enumerate(smooth_images(6, seed=11)):
        save(image, base / "train" / "good" / f"{index:03d}.png")
    for index, image in enumerate(smooth_images(3, seed=12)):
        save(image, base / "test" / "good" / f"{index:03d}.png")
    for index, image in enumerate(add_defect(smooth_images(3, seed=13))):
        save(image, base / "test" / "checker" / f"{index:03d}.png")
        mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
        mask[40:54, 40:54] = 255
        (base / "ground_truth" / "checker").mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(base / "ground_truth" / "checker" / f"{index:03d}_mask.png")
    return root


def fit_and_predict(root: Path, seed: int = 0, **model_args):
    from anomalib.data import MVTecAD
    from anomalib.engine import Engine
    from anomalib.post_processing import PostProcessor
    from lightning.pytorch import seed_everything

    seed_everything(seed, verbose=False)
    model = Rkde(
        pre_trained=False,
        **model_args,
        pre_processor=Rkde.configure_pre_processor(image_size=(IMAGE_SIZE, IMAGE_SIZE)),
        post_processor=PostProcessor(enable_normalization=False),
        evaluator=False,
        visualizer=False,
    )
    datamodule = MVTecAD(root=root, category="widget", num_workers=0, seed=seed,
                         train_batch_size=4, eval_batch_size=4)
    with tempfile.TemporaryDirectory() as engine_dir, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = Engine(default_root_dir=engine_dir, max_epochs=1, logger=False, enable_progress_bar=False,
                        devices=1, accelerator="cpu", deterministic="warn")
        engine.fit(model=model, datamodule=datamodule)
        batches = engine.predict(model=model, dataloaders=datamodule.test_dataloader())
        checkpoint = Path(engine_dir) / "model.ckpt"
        engine.trainer.save_checkpoint(checkpoint)
        loaded = Rkde.load_from_checkpoint(checkpoint, evaluator=False, visualizer=False)
    return model, batches, loaded


def test_engine_fit_and_predict_offline_with_random_weights(tmp_path, offline):
    root = write_mvtec_category(tmp_path)
    model, batches, loaded = fit_and_predict(root, region_proposals="grid")
    scores = torch.cat([batch.pred_score.reshape(-1) for batch in batches])
    labels = torch.cat([batch.gt_label.reshape(-1) for batch in batches])
    maps = torch.cat([batch.anomaly_map.reshape(-1, IMAGE_SIZE, IMAGE_SIZE) for batch in batches])
    assert scores.shape == (6,) and maps.shape == (6, IMAGE_SIZE, IMAGE_SIZE)
    assert torch.isfinite(scores).all() and torch.isfinite(maps).all()
    assert torch.allclose(scores, maps.amax(dim=(1, 2)))
    assert scores[labels == 1].min() > scores[labels == 0].max()  # the checkered squares are obvious
    assert bool(model._is_fitted)
    images = add_defect(smooth_images(2, seed=21))
    assert torch.equal(loaded.eval().model(images).pred_score, model.eval().model(images).pred_score)


@pytest.mark.slow
def test_engine_runs_with_the_same_seed_are_identical(tmp_path, offline):
    root = write_mvtec_category(tmp_path)
    runs = [fit_and_predict(root, region_proposals="grid")[1] for _ in range(2)]
    scores = [torch.cat([batch.pred_score.reshape(-1) for batch in run]) for run in runs]
    maps = [torch.cat([batch.anomaly_map.reshape(-1, IMAGE_SIZE, IMAGE_SIZE) for batch in run]) for run in runs]
    assert torch.equal(scores[0], scores[1]) and torch.equal(maps[0], maps[1])


@pytest.mark.slow
def test_engine_with_random_faster_rcnn_offline(tmp_path, offline):
    root = write_mvtec_category(tmp_path)
    model, batches, _ = fit_and_predict(root, detector_min_size=128, detector_max_size=128)
    scores = torch.cat([batch.pred_score.reshape(-1) for batch in batches])
    maps = torch.cat([batch.anomaly_map.reshape(-1, IMAGE_SIZE, IMAGE_SIZE) for batch in batches])
    assert scores.shape == (6,) and maps.shape == (6, IMAGE_SIZE, IMAGE_SIZE)
    assert torch.isfinite(scores).all()
    assert model.model.region_extractor.faster_rcnn is not None


def test_kde_scores_follow_anomalib_and_do_not_saturate():
    """Where anomalib's probability p is informative our score is -log(1 - p); far out it keeps ordering."""
    from anomalib.models.components.classification import KDEClassifier

    torch.manual_seed(0)
    basis = torch.linalg.qr(torch.randn(4096, 4)).Q.T

    def features(count: int, shift: float = 0.0) -> torch.Tensor:
        return (torch.randn(count, 4) + shift) @ basis + 0.01 * torch.randn(count, 4096)

    model = RkdeModel(pre_trained=False, region_proposals="grid", n_pca_components=4)
    model.memory_bank = [features(300)]
    model.fit()
    classifier = model.classifier
    probe = torch.cat([features(40), features(40, shift=2.0)])
    ours = classifier(probe.clone()).double()  # anomalib's PCA transform works in place
    anomalib_p = KDEClassifier.predict(classifier, probe.clone()).double()
    informative = anomalib_p < 0.99  # float32 p loses digits near 1
    assert informative.sum() > 20
    torch.testing.assert_close(ours[informative], -torch.log1p(-anomalib_p[informative]), rtol=1e-5, atol=0)
    far = torch.cat([features(1, shift=shift) for shift in (40.0, 80.0, 160.0, 320.0)])
    assert (KDEClassifier.predict(classifier, far.clone()) == 1.0).all()  # anomalib: four-way tie
    far_scores = classifier(far)
    assert torch.all(far_scores.diff() > 0), far_scores
