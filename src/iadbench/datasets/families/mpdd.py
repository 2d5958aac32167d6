"""MPDD: the MVTec AD layout (converted as MVTec AD), without a direct download link."""

from __future__ import annotations

from iadbench.datasets.families import mvtec_ad
from iadbench.datasets.families.base import CC_BY_NC_SA_4, DatasetFamily

FAMILY = DatasetFamily(
    key="mpdd",
    display_name="MPDD",
    categories=("bracket_black", "bracket_brown", "bracket_white", "connector", "metal_plate", "tubes"),
    homepage="https://github.com/stepanje/MPDD",
    license=CC_BY_NC_SA_4,
    layout_note="Already the MVTec AD layout; categories are hardlinked (copied across filesystems).",
    # No direct link: anomalib 2.7.0 (datamodules/image/mpdd.py) also only prints these steps.
    manual_steps=(
        "MPDD has no direct download link (it is shared as a OneDrive folder):\n"
        "  1. Open https://vutbr-my.sharepoint.com/:f:/g/personal/xjezek16_vutbr_cz/"
        "EhHS_ufVigxDo3MC6Lweau0BVMuoCmhMZj6ddamiQ7-FnA?e=oHKCxI (linked from https://github.com/stepanje/MPDD).\n"
        "  2. Download all files and extract them, so that bracket_black/, bracket_brown/, ... are folders.\n"
        "  3. Either set `path:` in this dataset's config entry to that folder, or move it to {expected}."
    ),
    convert=mvtec_ad.convert,
)
