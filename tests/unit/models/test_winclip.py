"""WinCLIP (the zero_shot setting): `weights: random` builds its CLIP without any download, `pretrained`
reads open_clip's weights from the asset cache."""

import pytest

from iadbench.models.build import build_model
from iadbench.models.random_weights import offline_model

WINCLIP = {"init_args": {"scales": []}}
WEIGHTS_FILE = "vit_b_16_plus_240-laion400m_e31-8fb26589.pt"


@pytest.fixture
def downloads(monkeypatch):
    """Every open_clip weight download (URL, Hugging Face) recorded, then refused as a network access."""
    from open_clip import pretrained

    calls = []

    def record(kind):
        def download(*args, **kwargs):
            calls.append((kind, args, kwargs))
            raise ConnectionError(f"network access: open_clip {kind} {args}")
        return download

    monkeypatch.setattr(pretrained, "download_pretrained_from_url", record("url"))
    monkeypatch.setattr(pretrained, "download_pretrained_from_hf", record("hf"))
    monkeypatch.setattr(pretrained, "hf_hub_download", record("hf_hub_download"))
    return calls


def test_random_weights_build_the_clip_without_any_download(downloads, tmp_path):
    with offline_model("winclip", WINCLIP, "random", "unused"):
        model = build_model("winclip", WINCLIP, 64, "random", tmp_path)
    assert downloads == []
    clip = model.model.clip
    assert sum(parameter.numel() for parameter in clip.parameters()) > 200_000_000  # ViT-B-16-plus-240, both towers
    assert clip.visual.grid_size == (15, 15)  # 240 px, 16 px patches: the architecture anomalib asks for


def test_pretrained_weights_are_read_from_the_asset_cache(downloads, tmp_path, monkeypatch):
    """The counter-proof: without random weights open_clip does ask for its file, in the cache's clip/."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # what a job's offline_environment sets
    with pytest.raises(ConnectionError, match="network access"), offline_model("winclip", WINCLIP, "pretrained", "no"):
        build_model("winclip", WINCLIP, 64, "pretrained", tmp_path)
    [(kind, args, kwargs)] = downloads
    assert kind == "url" and args[0].endswith(f"/{WEIGHTS_FILE}")
    assert kwargs["cache_dir"] == str(tmp_path / "cache" / "clip")
