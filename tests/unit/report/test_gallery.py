import json

import numpy as np
from PIL import Image

from iadbench.report.gallery import pick_examples, render_gallery
from iadbench.run.predictions import save_predictions


def test_examples_are_one_per_defect_then_one_good():
    paths = np.array(["c/test/good/0.png", "c/test/good/1.png", "c/test/crack/0.png", "c/test/crack/1.png",
                      "c/test/hole/0.png"])
    labels = np.array([0, 0, 1, 1, 1])
    assert pick_examples(paths, labels) == [2, 4, 0]


def test_gallery_png_for_ok_and_failed_jobs(tmp_path):
    image, mask = tmp_path / "crack.png", tmp_path / "crack_mask.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(image)
    Image.fromarray((np.eye(16) * 255).astype(np.uint8)).save(mask)
    save_predictions(tmp_path / "p.npz", {
        "scores": np.array([0.5]), "labels": np.array([1], np.uint8), "maps": np.random.rand(1, 4, 4),
        "image_paths": np.array([str(image)]), "mask_paths": np.array([str(mask)]),
    })
    (tmp_path / "ok.json").write_text(json.dumps({"status": "ok"}))
    (tmp_path / "failed.json").write_text(json.dumps({"status": "failed"}))
    for name in ("ok", "failed"):
        render_gallery(tmp_path / "p.npz", tmp_path / f"{name}.json", tmp_path / f"{name}.png", name)
        assert Image.open(tmp_path / f"{name}.png").size[0] > 100
