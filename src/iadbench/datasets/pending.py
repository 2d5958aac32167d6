"""The archive a dataset's download would fetch, found without downloading: what an offline run lists
beside the missing pretrained weights (URL, where to place the archive by hand)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.core.files import write_json
from iadbench.datasets import embedded_video
from iadbench.datasets.download import no_network
from iadbench.datasets.families import folder, mvtec_layout
from iadbench.datasets.prepare import (
    DOWNLOAD_SUBDIR,
    EMBEDDED_TYPE,
    EXTRACTED_SUBDIR,
    any_family,
    archive_source,
    dataset_type,
    is_complete,
    prepare_dataset,
)

LOCAL_TYPES = (EMBEDDED_TYPE, embedded_video.TYPE, folder.TYPE, mvtec_layout.TYPE)  # nothing downloaded


def archive_to_fetch(name: str, spec: dict[str, Any], root: str | Path) -> dict[str, str] | None:
    """``{name, url, place, how}`` of the archive ``prepare_dataset(spec, root)`` would download for config
    entry ``name``; None when it downloads nothing (complete, local, ``path:``, extracted, miniature, no URL)."""
    dataset_dir = Path(root)
    kind = dataset_type(spec)
    if kind in LOCAL_TYPES or is_complete(dataset_dir) or "path" in spec or spec.get("miniature") is not None:
        return None
    if (dataset_dir / EXTRACTED_SUBDIR).is_dir():
        return None
    info = any_family(kind)
    url, filename, checksum = archive_source(spec, info)
    if not url:
        return None
    place = dataset_dir.resolve() / DOWNLOAD_SUBDIR / filename
    verified = f" (its checksum {checksum} is verified)" if checksum else ""
    return {"name": f"{info.display_name} archive", "url": url, "place": str(place),
            "how": f"put the archive at {place}{verified}, or name it in the config as `datasets.{name}.path`"}


def prepare_or_list(name: str, spec: dict[str, Any], root: str | Path, missing_path: str | Path) -> Path:
    """:func:`prepare_dataset`, except that an archive whose host cannot be reached at all is also written to
    ``missing_path`` (``{"model": "dataset <name>", "missing": [{name, url, place, how, reason}]}``, the record
    the run's summary of missing downloads reads) before the error propagates; removed after a success."""
    try:
        source = prepare_dataset(spec, root)
    except Exception as error:
        entry = archive_to_fetch(name, spec, root) if no_network(error) else None
        if entry is not None:
            write_json(missing_path, {"model": f"dataset {name}", "missing": [{**entry, "reason": str(error)}]})
        raise
    Path(missing_path).unlink(missing_ok=True)
    return source
