import anomalib.models
import pytest

from iadbench.config.feature_maps import feature_map_warnings
from iadbench.models.registry import MODEL_CLASS_PATHS, check_init_args, import_class, resolve_class_path
from iadbench.models.specs import STUDY_MODELS


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
    from iadbench.models.specs import train_mem_mb, train_runtime_minutes

    assert train_mem_mb("patchcore") > train_mem_mb("fastflow")  # memory bank
    assert train_mem_mb("patchcore", attempt=2) == 2 * train_mem_mb("patchcore")
    assert train_runtime_minutes("draem", attempt=2) == 2 * train_runtime_minutes("draem")


@pytest.mark.parametrize(("name", "valid", "typo"), [
    ("padim", {"backbone": "resnet18", "layers": ["layer1"], "n_features": None}, "layer"),
    ("patchcore", {"coreset_sampling_ratio": 0.1, "num_neighbors": 9}, "num_neighbours"),
    ("dfm", {"layer": "layer2", "pooling_kernel_size": 2, "score_type": "nll"}, "pooling_kernel"),
    ("fastflow", {"flow_steps": 2, "conv3x3_only": True}, "flow_step"),
    ("draem", {"dtd_dir": "dtd", "enable_sspcab": True}, "sspcab"),
    ("rkde", {"region_proposals": "grid", "n_pca_components": 4}, "region_proposal"),
])
def test_init_args_are_checked_against_the_constructor(name, valid, typo):
    check_init_args(name, {"init_args": valid})
    with pytest.raises(ValueError, match=rf"'models\.{name}\.init_args\.{typo}': \w+\(\) has no argument '{typo}' "
                                         rf"\(its arguments: [^)]*{next(iter(valid))}"):
        check_init_args(name, {"init_args": {**valid, typo: 1}})


def test_init_args_may_not_replace_what_iadbench_sets():
    with pytest.raises(ValueError, match=r"models\.padim\.init_args\.post_processor': set by iadbench"):
        check_init_args("padim", {"init_args": {"post_processor": False}})


def test_unimportable_class_path_with_init_args_names_the_model():
    with pytest.raises(ValueError, match=r"config key 'models\.mine': cannot import model class 'no_such\.Model'"):
        check_init_args("mine", {"class_path": "no_such.Model", "init_args": {"backbone": "resnet18"}})


def grid(models: dict, image_size: int = 64) -> dict:
    return {"image_size": image_size, "models": models}


def test_dfm_map_pooled_to_one_pixel_is_warned_about():
    (message,) = feature_map_warnings(grid({"dfm": {"init_args": {"backbone": "resnet18", "layer": "layer3"}},
                                            "padim": {}}))
    assert message.startswith("models.dfm: at image_size 64, resnet18 layer3 gives a 4x4 feature map, "
                              "average-pooled with pooling_kernel_size=4 to 1x1")


@pytest.mark.parametrize(("models", "image_size", "warned"), [
    ({"dfm": {}}, 64, ["models.dfm: at image_size 64, resnet50 layer3"]),  # constructor defaults
    ({"dfm": {}}, 128, []),  # 8x8 pooled by 4: 2x2
    ({"dfm": {"init_args": {"pooling_kernel_size": 2}}}, 64, []),
    ({"dfm": {"init_args": {"pooling_kernel_size": 1}}}, 16,
     ["models.dfm: at image_size 16, resnet50 layer3 gives a 1x1 feature map:"]),
    ({"dfm": {"init_args": {"layer": "layer2"}, "image_size": 32}}, 256, ["models.dfm: at image_size 32"]),
    ({"dfm": {"init_args": {"backbone": "efficientnet_b0"}}}, 64, []),  # stride unknown: not judged
    ({"padim": {"init_args": {"layers": ["layer3"]}}}, 16, ["models.padim: at image_size 16, resnet18 layer3"]),
    ({"padim": {}, "patchcore": {}, "fastflow": {}}, 16, []),
    ({"my_dfm": {"class_path": "anomalib.models.Dfm"}}, 64, ["models.my_dfm:"]),
])
def test_feature_map_warnings(models, image_size, warned):
    messages = feature_map_warnings(grid(models, image_size))
    assert len(messages) == len(warned)
    for message, start in zip(messages, warned, strict=True):
        assert message.startswith(start)


def test_docs_tables_are_generated_from_the_specs(repo_root):
    from iadbench.models.docs import render

    document = (repo_root / "docs" / "models.md").read_text()
    assert render(document) == document, "run: python -m iadbench.models.docs docs/models.md"


def test_a_subclass_gets_its_parents_spec_and_an_unknown_class_a_generic_one():
    from anomalib.models import Glass

    from iadbench.models.specs import spec_for_class, spec_of

    class MyGlass(Glass):
        pass

    assert spec_for_class(MyGlass) is spec_of("glass")
    assert spec_of("mine", "collections.OrderedDict").task_type is None
    assert spec_of("padim").display_name == "PaDiM"
