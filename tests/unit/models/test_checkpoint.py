"""The one loader of a trained job's weights: data-sized tensors, the allowlist, safetensors (no pickle)."""

import os
import pickle

import pytest
import torch

from iadbench.models.checkpoint import (
    UnsafeCheckpointError,
    load_checkpoint,
    load_trained_state,
    read_checkpoint,
    write_safetensors,
)


class Bank(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("memory_bank", torch.empty(0))
        self.linear = torch.nn.Linear(2, 2)


class Planted:
    """Unpickling this calls os.mkdir(marker): the side effect a malicious checkpoint would have."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


class Hyper:
    """A harmless class of the test module, still outside the allowlist."""


def _trained() -> Bank:
    trained = Bank()
    trained.memory_bank = torch.arange(6.0).view(3, 2)
    return trained


def test_data_sized_tensors_take_the_checkpoints_size_and_keys_are_reported():
    trained = _trained()
    state = trained.state_dict()
    state["stale.weight"] = torch.zeros(1)
    del state["linear.bias"]
    fresh = Bank()
    missing, unexpected = load_trained_state(fresh, {"state_dict": state}, strict=False)
    assert torch.equal(fresh.memory_bank, trained.memory_bank)
    assert torch.equal(fresh.linear.weight, trained.linear.weight)
    assert missing == ["linear.bias"] and unexpected == ["stale.weight"]
    with pytest.raises(RuntimeError, match="linear.bias"):
        load_trained_state(Bank(), {"state_dict": state})  # strict (the default)


def test_a_lightning_checkpoint_loads_with_weights_only(tmp_path):
    trained = _trained()
    torch.save({"state_dict": trained.state_dict(), "epoch": 1, "hyper_parameters": {"n": 3, "name": "x"}},
               tmp_path / "model.ckpt")
    fresh = Bank()
    assert load_checkpoint(fresh, tmp_path / "model.ckpt") == ([], [])
    assert torch.equal(fresh.memory_bank, trained.memory_bank)


def test_anomalib_enums_and_the_models_own_allowlist_load(tmp_path):
    from anomalib import PrecisionType

    from iadbench.models.rkde.lightning_model import Rkde
    from iadbench.models.rkde.region_extractor import RoiStage

    torch.save({"state_dict": {}, "hyper_parameters": {"precision": PrecisionType.FLOAT32, "roi": RoiStage.RCNN}},
               tmp_path / "model.ckpt")
    with pytest.raises(UnsafeCheckpointError, match="iadbench.models.rkde.region_extractor.RoiStage"):
        read_checkpoint(tmp_path / "model.ckpt")  # RKDE's enum: only with RKDE's list
    loaded = read_checkpoint(tmp_path / "model.ckpt", Rkde.checkpoint_safe_globals())
    assert loaded["hyper_parameters"]["roi"] is RoiStage.RCNN


@pytest.mark.parametrize("planted", ["side_effect", "class"])
def test_a_checkpoint_needing_another_class_is_refused_by_name_and_never_run(tmp_path, planted):
    marker = tmp_path / "pwned"
    value, name = (Planted(marker), "posix.mkdir") if planted == "side_effect" else (Hyper(), f"{__name__}.Hyper")
    torch.save({"state_dict": _trained().state_dict(), "hyper_parameters": {"x": value}}, tmp_path / "model.ckpt")
    with pytest.raises(UnsafeCheckpointError, match=rf"model.ckpt: refused to load: it needs {name}\b"):
        load_checkpoint(Bank(), tmp_path / "model.ckpt")
    assert not marker.exists()
    # A bare pickle (not torch.save's zip) too.
    (tmp_path / "bare.ckpt").write_bytes(pickle.dumps({"state_dict": {}, "x": Planted(marker)}))
    with pytest.raises(UnsafeCheckpointError, match="mkdir"):
        load_checkpoint(Bank(), tmp_path / "bare.ckpt")
    assert not marker.exists()


def test_safetensors_keep_the_weights_and_the_components_config(tmp_path):
    trained = _trained()
    config = {"anomalib_components_enabled": {"pre_processor": True, "evaluator": False},
              "anomalib_pre_processor_config": {"transform": None}}
    torch.save({"state_dict": trained.state_dict(), "optimizer_states": [{"lr": 0.1}], **config},
               tmp_path / "model.ckpt")
    write_safetensors(tmp_path / "model.ckpt", tmp_path / "model.safetensors")
    loaded = read_checkpoint(tmp_path / "model.safetensors")
    assert set(loaded) == {"state_dict", *config} and {key: loaded[key] for key in config} == config
    assert loaded["state_dict"].keys() == trained.state_dict().keys()
    assert all(torch.equal(loaded["state_dict"][key], value) for key, value in trained.state_dict().items())
    fresh = Bank()
    load_checkpoint(fresh, tmp_path / "model.safetensors")
    assert torch.equal(fresh.memory_bank, trained.memory_bank)
    assert b"optimizer" not in (tmp_path / "model.safetensors").read_bytes()


def test_a_pickle_named_safetensors_is_not_run(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"state_dict": {}, "x": Planted(marker)}, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match="model.safetensors: not a safetensors file"):
        load_checkpoint(Bank(), tmp_path / "model.safetensors")
    assert not marker.exists()
