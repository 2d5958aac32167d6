"""What iadbench knows about each real dataset: categories, where to get it, how to check it.

URLs and checksums are copied from anomalib 2.7.0 (the ``DOWNLOAD_INFO`` of each datamodule/dataset
module, path given in ``Archive.checksum_source``); category tuples match anomalib's ``CATEGORIES``.
Nothing here was verified against the files themselves (no internet where this was written): a
checksum is only as good as anomalib's copy of it.

anomalib stores every checksum in ``DownloadInfo.hashsum`` and always checks it as SHA-256
(``anomalib.data.utils.download.download_and_extract`` calls ``check_hash`` with its default
``algorithm="sha256"``). MVTec 3D-AD's hashsum has 32 hex digits, i.e. it is an MD5 digest, so
anomalib's own check of that archive can never pass. iadbench infers the algorithm from the digest
length (``checksum_algorithm``) instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Hex digest length -> hashlib algorithm name. Lengths are unambiguous for the algorithms in use.
ALGORITHM_BY_DIGEST_LENGTH = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}

CC_BY_NC_SA_4 = "CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/), non-commercial"


def checksum_algorithm(hexdigest: str) -> str:
    """The hash algorithm a hex digest was made with, inferred from its length (32 hex = md5, 64 = sha256)."""
    digest = hexdigest.strip().lower()
    if not digest or any(char not in "0123456789abcdef" for char in digest):
        raise ValueError(f"checksum {hexdigest!r} is not a hex digest")
    try:
        return ALGORITHM_BY_DIGEST_LENGTH[len(digest)]
    except KeyError:
        known = ", ".join(f"{length} ({name})" for length, name in ALGORITHM_BY_DIGEST_LENGTH.items())
        raise ValueError(
            f"checksum {hexdigest!r} has {len(digest)} hex digits; known lengths: {known}"
        ) from None


@dataclass(frozen=True)
class Archive:
    """One downloadable archive of a dataset and the digest published for it."""

    url: str
    filename: str
    checksum: str
    checksum_source: str

    @property
    def algorithm(self) -> str:
        """Hash algorithm of ``checksum``, inferred from its length."""
        return checksum_algorithm(self.checksum)


@dataclass(frozen=True)
class DatasetInfo:
    """A real dataset type (the ``type:`` of a config entry)."""

    key: str
    display_name: str
    categories: tuple[str, ...]
    homepage: str
    license: str
    # How the prepared category is laid out and read; shown in docs and logs.
    layout_note: str
    # Steps to get the data by hand; the only way for datasets without ``archive``.
    manual_steps: str
    archive: Archive | None = None
    # Relative paths whose presence marks a directory as the dataset's root (first match wins):
    # archives and user copies differ in how many folders wrap the data.
    root_markers: tuple[str, ...] = field(default=())
    # The prepared images include JPEGs, so the reader must accept .jpg/.JPG besides .png.
    reads_jpeg: bool = False

    @property
    def downloadable(self) -> bool:
        """Whether iadbench can fetch the archive itself (otherwise: manual steps, or ``path:``)."""
        return self.archive is not None

    def markers(self) -> tuple[str, ...]:
        """Root markers, defaulting to the category folders."""
        return self.root_markers or self.categories


_MVTEC_FORM = (
    "MVTec publishes its datasets behind a short form. If the download link fails:\n"
    "  1. Open {homepage} and accept the license (non-commercial use).\n"
    "  2. Download {what}.\n"
    "  3. Either set `url:` (a working link) or `path:` (the archive file, or the folder it extracts to)\n"
    "     in this dataset's config entry, or extract it into {{expected}}."
)

MVTEC_AD = DatasetInfo(
    key="mvtec_ad",
    display_name="MVTec AD",
    categories=(
        "bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut", "pill",
        "screw", "tile", "toothbrush", "transistor", "wood", "zipper",
    ),
    homepage="https://www.mvtec.com/company/research/datasets/mvtec-ad",
    license=CC_BY_NC_SA_4,
    layout_note="Already the MVTec AD layout; categories are hardlinked (copied across filesystems).",
    manual_steps=_MVTEC_FORM.format(
        homepage="https://www.mvtec.com/company/research/datasets/mvtec-ad",
        what="mvtec_anomaly_detection.tar.xz (about 4.9 GB)",
    ),
    archive=Archive(
        url="https://www.mydrive.ch/shares/150996/b52ecdcbf521176e9db9c731f2304b27/"
        "download/420938113-1629960298/mvtec_anomaly_detection.tar.xz",
        filename="mvtec_anomaly_detection.tar.xz",
        checksum="cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/image/mvtecad.py DOWNLOAD_INFO.hashsum",
    ),
)

MVTEC_3D = DatasetInfo(
    key="mvtec_3d",
    display_name="MVTec 3D-AD",
    categories=(
        "bagel", "cable_gland", "carrot", "cookie", "dowel", "foam", "peach", "potato", "rope", "tire",
    ),
    homepage="https://www.mvtec.com/company/research/datasets/mvtec-3d-ad",
    license=CC_BY_NC_SA_4,
    layout_note=(
        "RGB only: <split>/<label>/rgb/*.png become <split>/<label>/*.png and test/<defect>/gt/*.png become "
        "ground_truth/<defect>/*.png (same names). Depth (xyz/*.tiff) is not used by the 2D models; "
        "validation/ is not used (models train on train/good)."
    ),
    manual_steps=_MVTEC_FORM.format(
        homepage="https://www.mvtec.com/company/research/datasets/mvtec-3d-ad",
        what="mvtec_3d_anomaly_detection.tar.xz",
    ),
    archive=Archive(
        url="https://www.mydrive.ch/shares/150646/25de33f1276dd418cd856f2f48a84cdb/download/428824485-1643299897"
        "/mvtec_3d_anomaly_detection.tar.xz",
        filename="mvtec_3d_anomaly_detection.tar.xz",
        # 32 hex digits: an MD5 digest, although anomalib checks it as SHA-256 (see module docstring).
        checksum="d8bb2800fbf3ac88e798da6ae10dc819",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/depth/mvtec_3d.py DOWNLOAD_INFO.hashsum "
        "(md5 by its length; anomalib verifies it as sha256)",
    ),
)

BTECH = DatasetInfo(
    key="btech",
    display_name="BTech (BTAD)",
    categories=("01", "02", "03"),
    homepage="https://avires.dimi.uniud.it/papers/btad/btad.zip",
    license=CC_BY_NC_SA_4,
    layout_note=(
        "Converted like anomalib's BTech.prepare_data: .bmp converted to .png; ok -> good, ko kept as the "
        "defect name; masks keep the image's name (ground_truth/ko/<image stem>.png)."
    ),
    manual_steps=(
        "Download btad.zip from https://avires.dimi.uniud.it/papers/btad/btad.zip, then set `path:` to the "
        "zip (or the BTech_Dataset_transformed folder it extracts to), or extract it into {expected}."
    ),
    archive=Archive(
        url="https://avires.dimi.uniud.it/papers/btad/btad.zip",
        filename="btad.zip",
        checksum="461c9387e515bfed41ecaae07c50cf6b10def647b36c9e31d239ab2736b10d2a",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/image/btech.py DOWNLOAD_INFO.hashsum",
    ),
)

KOLEKTOR = DatasetInfo(
    key="kolektor",
    display_name="KolektorSDD",
    categories=("kolektor",),
    homepage="https://www.vicos.si/resources/kolektorsdd/",
    license=CC_BY_NC_SA_4,
    layout_note=(
        "Converted to the MVTec AD layout with anomalib's own split (make_kolektor_dataset: images with an "
        "all-zero mask are good, 80/20 train/test split of good images with random_state=42, all defective "
        "images in test). Images keep their JPEG bytes (kosNN_PartM.jpg); label .bmp masks become "
        "ground_truth/defect/kosNN_PartM.png (0/255)."
    ),
    manual_steps=(
        "Download KolektorSDD.zip from https://www.vicos.si/resources/kolektorsdd/, then set `path:` to "
        "the zip (or the folder holding kos01..kos50), or extract it into {expected}."
    ),
    archive=Archive(
        url="https://go.vicos.si/kolektorsdd",
        filename="KolektorSDD.zip",
        checksum="65dc621693418585de9c4467d1340ea7958a6181816f0dc2883a1e8b61f9d4dc",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/image/kolektor.py DOWNLOAD_INFO.hashsum",
    ),
    root_markers=("kos01",),
    reads_jpeg=True,
)

VISA = DatasetInfo(
    key="visa",
    display_name="VisA",
    categories=(
        "candle", "capsules", "cashew", "chewinggum", "fryum", "macaroni1", "macaroni2", "pcb1", "pcb2",
        "pcb3", "pcb4", "pipe_fryum",
    ),
    homepage="https://github.com/amazon-science/spot-diff",
    license=CC_BY_NC_SA_4,
    layout_note=(
        "split_csv/1cls.csv applied as anomalib's Visa.apply_cls1_split does (train/good, test/good, "
        "test/bad, ground_truth/bad with masks binarised to 0/255), one category at a time, by iadbench's "
        "own code so it can hardlink and write atomically. Images stay JPEG (.JPG), read with anomalib's "
        "VisA extensions."
    ),
    manual_steps=(
        "Download VisA_20220922.tar from https://amazon-visual-anomaly.s3.us-west-2.amazonaws.com/"
        "VisA_20220922.tar (see https://github.com/amazon-science/spot-diff), then set `path:` to the tar "
        "(or the folder holding split_csv/ and the category folders), or extract it into {expected}."
    ),
    archive=Archive(
        url="https://amazon-visual-anomaly.s3.us-west-2.amazonaws.com/VisA_20220922.tar",
        filename="VisA_20220922.tar",
        checksum="2eb8690c803ab37de0324772964100169ec8ba1fa3f7e94291c9ca673f40f362",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/image/visa.py DOWNLOAD_INFO.hashsum",
    ),
    root_markers=("split_csv/1cls.csv",),
    reads_jpeg=True,
)

MVTEC_AD_2 = DatasetInfo(
    key="mvtec_ad_2",
    display_name="MVTec AD 2",
    categories=("can", "fabric", "fruit_jelly", "rice", "sheet_metal", "vial", "wallplugs", "walnuts"),
    homepage="https://www.mvtec.com/company/research/datasets/mvtec-ad-2",
    license=CC_BY_NC_SA_4,
    layout_note=(
        "train/good -> train/good; test_public/{good,bad} -> test/{good,bad}; "
        "test_public/ground_truth/bad -> ground_truth/bad. validation/ and the private test sets (no public "
        "ground truth) are not used."
    ),
    manual_steps=_MVTEC_FORM.format(
        homepage="https://www.mvtec.com/company/research/datasets/mvtec-ad-2", what="mvtec_ad_2.tar.gz"
    ),
    archive=Archive(
        url="https://www.mydrive.ch/shares/150997/701c90d3aea6588f404936e32a674602/download/"
        "466712769-1743429042/mvtec_ad_2.tar.gz",
        filename="mvtec_ad_2.tar.gz",
        checksum="c0ded99ef32bfc8e352d52beb44515e5b292b8598cb963aadfa91ca0763505e4",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/image/mvtecad2.py DOWNLOAD_INFO.hashsum",
    ),
)

MVTEC_LOCO = DatasetInfo(
    key="mvtec_loco",
    display_name="MVTec LOCO AD",
    categories=("breakfast_box", "juice_bottle", "pushpins", "screw_bag", "splicing_connectors"),
    homepage="https://www.mvtec.com/company/research/datasets/mvtec-loco",
    license=CC_BY_NC_SA_4,
    layout_note=(
        "train/good and test/* kept; each image's mask folder ground_truth/<type>/<NNN>/*.png is merged "
        "(union, 0/255) into ground_truth/<type>/<NNN>.png. validation/ is not used. Pixel metrics on "
        "the union mask are not LOCO's sPRO."
    ),
    manual_steps=_MVTEC_FORM.format(
        homepage="https://www.mvtec.com/company/research/datasets/mvtec-loco",
        what="mvtec_loco_anomaly_detection.tar.xz",
    ),
    archive=Archive(
        url="https://www.mydrive.ch/shares/48237/1b9106ccdfbb09a0c414bd49fe44a14a/download/430647091-1646842701"
        "/mvtec_loco_anomaly_detection.tar.xz",
        filename="mvtec_loco_anomaly_detection.tar.xz",
        checksum="9e7c84dba550fd2e59d8e9e231c929c45ba737b6b6a6d3814100f54d63aae687",
        checksum_source="anomalib 2.7.0 anomalib/data/datasets/image/mvtec_loco.py DOWNLOAD_INFO.hashsum",
    ),
)

MPDD = DatasetInfo(
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
)

REAL_IAD = DatasetInfo(
    key="real_iad",
    display_name="Real-IAD",
    categories=(
        "audiojack", "bottle_cap", "button_battery", "end_cap", "eraser", "fire_hood", "mint", "mounts",
        "pcb", "phone_battery", "plastic_nut", "plastic_plug", "porcelain_doll", "regulator",
        "rolled_strip_base", "sim_card_set", "switch", "tape", "terminalblock", "toothbrush", "toy_brick",
        "toy", "transistor1", "u_block", "usb_adaptor", "usb", "vcpill", "wooden_beads", "woodstick",
        "zipper",
    ),
    homepage="https://huggingface.co/datasets/REAL-IAD/Real-IAD",
    license=CC_BY_NC_SA_4,
    layout_note=(
        "Converted from the JSON metadata (`json_path:`, default "
        "realiad_jsons/realiad_jsons/{category}.json, as anomalib) at `resolution:` (default 256, as "
        "anomalib): OK train samples -> train/good, OK test samples -> test/good, others -> "
        "test/<anomaly_class> with 0/255 masks in ground_truth/<anomaly_class>/<name>.png. Names flatten "
        "the sample path (S0001/OK/... -> S0001__OK__...); images stay JPEG."
    ),
    # Access needs the authors' approval on Hugging Face; anomalib 2.7.0 (datamodules/image/realiad.py)
    # likewise only prints instructions.
    manual_steps=(
        "Real-IAD needs the authors' approval:\n"
        "  1. Request access at https://huggingface.co/datasets/REAL-IAD/Real-IAD and wait for approval.\n"
        "  2. Download it, e.g. `huggingface-cli download --repo-type dataset REAL-IAD/Real-IAD "
        "--local-dir <folder>` (after `huggingface-cli login`), and extract the per-category archives so "
        "that <folder>/realiad_jsons/ and <folder>/realiad_256/<category>/ (or another resolution) exist.\n"
        "  3. Either set `path:` in this dataset's config entry to <folder>, or move it to {expected}."
    ),
    root_markers=("realiad_jsons",),
    reads_jpeg=True,
)

# Every real dataset type, keyed by the config's ``type:``.
CATALOG: dict[str, DatasetInfo] = {
    info.key: info
    for info in (MVTEC_AD, MVTEC_3D, BTECH, KOLEKTOR, VISA, MVTEC_AD_2, MPDD, MVTEC_LOCO, REAL_IAD)
}


def dataset_info(dataset_type: str) -> DatasetInfo:
    """The catalog entry of a dataset type, with an error listing the known types."""
    try:
        return CATALOG[dataset_type]
    except KeyError:
        raise ValueError(f"unknown dataset type {dataset_type!r} (known: {', '.join(CATALOG)})") from None
