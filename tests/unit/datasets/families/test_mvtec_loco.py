import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parents[1]))
from archives import mvtec_loco_tree, write_tree

from iadbench.datasets.families import mvtec_loco


def test_each_images_mask_folder_is_merged_into_one_binary_mask(tmp_path):
    tree = mvtec_loco_tree()
    second_defect = np.zeros((6, 8), dtype=np.uint8)
    second_defect[5, 7] = 1  # a label value, not 255
    buffer = io.BytesIO()
    Image.fromarray(second_defect, mode="L").save(buffer, format="PNG")
    tree["breakfast_box/ground_truth/logical_anomalies/000/001.png"] = buffer.getvalue()
    source = write_tree(tmp_path / "source", tree)
    mvtec_loco.convert(source, "breakfast_box", tmp_path / "out", {})
    mask = np.asarray(Image.open(tmp_path / "out/ground_truth/logical_anomalies/000.png"))
    first_defect = np.asarray(Image.open(source / "breakfast_box/ground_truth/logical_anomalies/000/000.png"))
    assert set(np.unique(mask)) == {0, 255}
    assert mask[5, 7] == 255 and (mask[first_defect > 0] == 255).all()
    assert (mask > 0).sum() == (first_defect > 0).sum() + 1


def test_each_defect_keeps_its_own_mask_and_value_for_spro(tmp_path):
    tree = mvtec_loco_tree()
    second_defect = np.zeros((6, 8), dtype=np.uint8)
    second_defect[5, 7] = 1
    buffer = io.BytesIO()
    Image.fromarray(second_defect, mode="L").save(buffer, format="PNG")
    tree["breakfast_box/ground_truth/logical_anomalies/000/001.png"] = buffer.getvalue()
    tree["breakfast_box/defects_config.json"] = b'[{"defect_name": "a", "pixel_value": 255, ' \
        b'"saturation_threshold": 1.0, "relative_saturation": true}]'
    source = write_tree(tmp_path / "source", tree)
    mvtec_loco.convert(source, "breakfast_box", tmp_path / "out", {})
    with np.load(tmp_path / "out/defect_masks/logical_anomalies/000.npz") as data:
        masks = data["masks"]
    first_defect = np.asarray(Image.open(source / "breakfast_box/ground_truth/logical_anomalies/000/000.png"))
    assert masks.shape == (2, 6, 8) and masks.dtype == np.uint8
    np.testing.assert_array_equal(masks[0], first_defect)
    assert masks[1][5, 7] == 1 and (masks[1] > 0).sum() == 1  # the second defect's own value, apart
    assert (tmp_path / "out/defects_config.json").read_bytes() == tree["breakfast_box/defects_config.json"]
