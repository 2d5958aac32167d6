import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parents[1]))
from archives import visa_tree, write_tree

from iadbench.datasets import prepare


def test_masks_are_binarised_and_images_hardlinked(tmp_path):
    write_tree(tmp_path / "extracted", visa_tree(("candle",)))
    prepare.prepare_dataset({"type": "visa"}, tmp_path)
    prepare.prepare_category({"type": "visa"}, tmp_path, "candle")
    mask = np.asarray(Image.open(tmp_path / "candle/ground_truth/bad/000.png"))
    assert set(np.unique(mask)) == {0, 255}  # the source mask holds the label 1
    prepared = tmp_path / "candle/train/good/0000.JPG"
    assert prepared.stat().st_ino == (tmp_path / "extracted/candle/Data/Images/Normal/0000.JPG").stat().st_ino
