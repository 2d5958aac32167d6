"""Fetch every pretrained weight and data file one configured model loads; write its manifest last."""

from pathlib import Path

from iadbench.core.files import log_to_file, write_json
from iadbench.models.required_assets import fetch_assets

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
manifest = Path(snakemake.output[0])
write_json(manifest, fetch_assets(snakemake.wildcards.model, snakemake.params.model_spec, snakemake.params.image_size,
                                  asset_dir=manifest.parent.parent, mirror=snakemake.params.mirror,
                                  missing_path=Path(snakemake.log[0]).with_suffix(".missing.json")))
