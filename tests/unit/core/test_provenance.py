"""Every row records the versions of the libraries its numbers depend on."""

import re

from iadbench.core import provenance
from iadbench.report.render import PROVENANCE_COLUMNS
from iadbench.results.rows import ROW_SCHEMA

LIBRARIES = ("torch", "torchvision", "anomalib", "timm", "lightning", "torchmetrics", "freia", "numpy",
             "sklearn", "opencv")


def test_versions_of_installed_libraries_are_recorded():
    found = provenance.versions()
    for library in LIBRARIES:
        value = found[f"{library}_version"]
        assert value and value != "not installed", library
    assert found["freia_version"] == provenance.package_version("freia")  # metadata names are case-blind
    assert found["python_version"].startswith("3.")
    assert re.fullmatch(r"opencv(-contrib)?-python(-headless)?==\S+", found["opencv_version"])


def test_every_version_has_a_row_column_and_a_report_line():
    for column in provenance.versions():
        assert ROW_SCHEMA[column] == "string", column
        assert column in PROVENANCE_COLUMNS, column


def test_missing_package_and_opencv_variants(monkeypatch):
    assert provenance.package_version("no-such-package-iadbench") == "not installed"
    installed = {"opencv-python": "4.10.0.84", "opencv-python-headless": "4.11.0.86"}
    monkeypatch.setattr(provenance, "package_version", lambda name: installed.get(name, "not installed"))
    # Both ship cv2 and overwrite each other: both are recorded.
    assert provenance.opencv_version() == "opencv-python==4.10.0.84, opencv-python-headless==4.11.0.86"
    installed.clear()
    assert provenance.opencv_version() == "not installed"
