import anomalib.models
import pytest

from iadbench.models import MODEL_CLASS_PATHS, STUDY_MODELS, import_class, resolve_class_path


def test_registry_covers_every_anomalib_image_model():
    registered = {path.rsplit(".", 1)[1] for path in MODEL_CLASS_PATHS.values()}
    not_image_models = {"AiVad", "Fuvas", "CFM"}  # video, and RGB + point-cloud (MVTec 3D-AD)
    assert set(anomalib.models.__all__) - not_image_models <= registered


def test_study_models_are_the_fifteen():
    assert set(STUDY_MODELS) == {"cfa", "cflow", "csflow", "dfkde", "dfm", "fastflow", "rkde", "draem", "dsr",
                                 "ganomaly", "padim", "patchcore", "reverse_distillation", "stfpm", "uflow"}


@pytest.mark.parametrize("name", [name for name in MODEL_CLASS_PATHS if name != "rkde"])
def test_registered_classes_import(name):
    assert import_class(resolve_class_path(name)).__name__ == MODEL_CLASS_PATHS[name].rsplit(".", 1)[1]


def test_unknown_model_names_the_key():
    with pytest.raises(ValueError, match="models.padimm"):
        resolve_class_path("padimm")


def test_cluster_requests_scale_with_attempt_and_memory_class():
    from iadbench.models import train_mem_mb, train_runtime_minutes

    assert train_mem_mb("patchcore") > train_mem_mb("fastflow")  # memory bank
    assert train_mem_mb("patchcore", attempt=2) == 2 * train_mem_mb("patchcore")
    assert train_runtime_minutes("draem", attempt=2) == 2 * train_runtime_minutes("draem")
