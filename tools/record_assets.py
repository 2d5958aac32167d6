"""Record what the models of the pretrained configs load (src/iadbench/models/recorded_assets.json).

    PYTHONPATH=src python tools/record_assets.py [config/paper.yaml config/literature.yaml ...]

Builds each configured model once (torch, anomalib; minutes for the big backbones) with every weight and data
loader recording, and writes the table that `fetch_assets` and the offline pre-check read without torch.
Run it after changing a pretrained config's models or upgrading anomalib, timm, torch, torchvision or
huggingface_hub (the table is used only with the versions it was recorded with).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from iadbench.config.base import model_image_size
from iadbench.config.load import SCHEMA_PATH, validate_config
from iadbench.models.required_assets import record_asset_table

DEFAULT_CONFIGS = ("config/paper.yaml", "config/literature.yaml")


def configured_models(config_path: str | Path) -> list[tuple[str, dict, int]]:
    config = validate_config(yaml.safe_load(Path(config_path).read_text()), SCHEMA_PATH)
    return [(name, spec, model_image_size(config, name)) for name, spec in config["models"].items()]


def main(paths: list[str]) -> None:
    models = [model for path in paths or DEFAULT_CONFIGS for model in configured_models(path)]
    table = record_asset_table(models)
    print(f"{len(table['entries'])} entries recorded with {table['versions']}")


if __name__ == "__main__":
    main(sys.argv[1:])
