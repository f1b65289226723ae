"""Architectures and key conversions of the published checkpoints that no library
registry carries: SLIP-family ViTs, VISSL / torch-hub self-supervised ResNet-50s,
CORnets and the ecoset networks. Each family gives ``build(arch, **overrides)`` (the
architecture with random weights; ``overrides`` shrink it for tests) and
``convert(published) -> state_dict`` (the published file's layout → the module's
keys). ``load_checkpoint`` ties both to a cached weight file.

Sources of the layouts (read, not copied):
  SLIP      facebookresearch/SLIP models.py: ``{'state_dict': {'module.visual.<timm ViT>',
            'module.image_projection', …}, 'args': …}``; CLIP/SLIP encode_image = visual(x) @
            image_projection, SIMCLR encode_image = visual(x). ViT-S is SLIP's
            ``vit_small_mocov3_patch16_224`` (384-d, 12 blocks, 12 heads).
  VISSL     facebookresearch/vissl checkpoints: ``classy_state_dict.base_model.model.trunk``
            with ``_feature_blocks.`` before torchvision ResNet-50 names (as thingsvision's
            SSLExtractor reads them).
  Barlow Twins, VICReg, DINO-RN50: torchvision ResNet-50 state dicts without ``fc``.
  ecoset    KietzmannLab / thingsvision custom_models: torchvision resnet50 / inception_v3
            with 565 classes, plain state dicts.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from repalign.errors import MalformedDataError

# ---------------------------------------------------------------- SLIP family


class SlipImageEncoder(nn.Module):
    """SLIP / CLIP / SimCLR image tower: a timm ViT (no head) whose CLS token is
    projected by ``image_projection`` (width × 512) for the CLIP and SLIP objectives;
    SimCLR's encode_image is the ViT's CLS token itself. Output (B, 512) or (B, width)."""

    def __init__(self, visual: nn.Module, width: int, embed_dim: int | None):
        super().__init__()
        self.visual = visual
        self.image_projection = nn.Parameter(torch.empty(width, embed_dim)) if embed_dim else None
        if embed_dim:
            nn.init.normal_(self.image_projection, std=width**-0.5)

    def forward(self, x):
        h = self.visual(x)
        return h @ self.image_projection if self.image_projection is not None else h


SLIP_VIT = {
    "small": dict(embed_dim=384, depth=12, num_heads=12),  # SLIP's vit_small_mocov3_patch16_224
    "base": dict(embed_dim=768, depth=12, num_heads=12),
    "large": dict(embed_dim=1024, depth=24, num_heads=16),
}


def build_slip(arch: str, init: bool = True, **overrides) -> SlipImageEncoder:
    """arch ``<slip|clip|simclr>-<small|base|large>``; init False: skip timm's weight
    initialisation (a checkpoint overwrites every weight); overrides: ViT kwargs (tests)."""
    from timm.models.vision_transformer import VisionTransformer

    objective, size = arch.split("-")
    kw = {**SLIP_VIT[size], **overrides}
    if not init:
        kw.setdefault("weight_init", "skip")
    visual = VisionTransformer(img_size=224, patch_size=16, num_classes=0, **kw)
    return SlipImageEncoder(visual, kw["embed_dim"], None if objective == "simclr" else 512)


def convert_slip(published: dict) -> dict:
    sd = published.get("state_dict", published)
    out = {}
    for k, v in sd.items():
        k = k.removeprefix("module.")
        if k.startswith("visual.") or k == "image_projection":
            out[k] = v
    return out


# ---------------------------------------------------------------- self-supervised ResNet-50s


def build_resnet50_trunk(arch: str = "resnet50", **overrides) -> nn.Module:
    """torchvision ResNet-50 without its classifier (``fc`` = Identity): output (B, 2048),
    the average-pooled features the self-supervised papers evaluate."""
    import torchvision.models as tm

    m = tm.resnet50(weights=None, **overrides)
    m.fc = nn.Identity()
    return m


def convert_vissl(published: dict) -> dict:
    """VISSL checkpoint → torchvision ResNet-50 keys (heads dropped)."""
    trunk = published
    if "classy_state_dict" in published:
        trunk = published["classy_state_dict"]["base_model"]["model"]["trunk"]
    elif "model_state_dict" in published:
        trunk = published["model_state_dict"]
    out = {}
    for k, v in trunk.items():
        k = k.removeprefix("module.").removeprefix("_feature_blocks.")
        if not k.startswith("fc."):
            out[k] = v
    return out


def convert_plain_resnet(published: dict) -> dict:
    """A torchvision-named ResNet-50 state dict (Barlow Twins, VICReg, DINO-RN50), ``fc`` dropped."""
    sd = published.get("state_dict", published.get("model", published))
    return {k.removeprefix("module."): v for k, v in sd.items() if not k.removeprefix("module.").startswith("fc.")}


# ---------------------------------------------------------------- ecoset


def build_ecoset(arch: str, **overrides) -> nn.Module:
    """torchvision resnet50 / inception_v3 with ecoset's 565 classes (Mehrer et al. 2021)."""
    import torchvision.models as tm

    if arch == "resnet50":
        return tm.resnet50(weights=None, num_classes=565, **overrides)
    if arch == "inception_v3":
        return tm.inception_v3(weights=None, num_classes=565, aux_logits=True, init_weights=False, **overrides)
    raise KeyError(arch)


def convert_plain(published: dict) -> dict:
    sd = published.get("state_dict", published)
    return {k.removeprefix("module."): v for k, v in sd.items()}


# ---------------------------------------------------------------- CORnet


def build_cornet(arch: str, **overrides) -> nn.Module:
    from repalign.models.cornet import BUILDERS

    return BUILDERS[arch](**overrides)


def convert_cornet(published: dict) -> dict:
    from repalign.models.cornet import convert

    return convert(published)


FAMILIES: dict[str, tuple[Callable[..., nn.Module], Callable[[dict], dict]]] = {
    "slip": (build_slip, convert_slip),
    "vissl": (build_resnet50_trunk, convert_vissl),
    "resnet50-trunk": (build_resnet50_trunk, convert_plain_resnet),
    "ecoset": (build_ecoset, convert_plain),
    "cornet": (build_cornet, convert_cornet),
}


def load_converted(module: nn.Module, state: dict, what: str) -> nn.Module:
    """Load a converted state dict strictly: every module key must be there, and nothing
    but known extras (SimCLR's projection head is dropped before this)."""
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise MalformedDataError(
            f"{what}: checkpoint does not fit the architecture; missing {list(missing)[:5]}"
            f"{'…' if len(missing) > 5 else ''}, unexpected {list(unexpected)[:5]}{'…' if len(unexpected) > 5 else ''}"
        )
    return module


def load_checkpoint(family: str, arch: str, path, what: str) -> nn.Module:
    """Build ``family``/``arch`` and load the published file at ``path`` into it."""
    build, convert = FAMILIES[family]
    module = build(arch, init=False) if family == "slip" else build(arch)
    try:
        published = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise MalformedDataError(f"{what}: cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from exc
    return load_converted(module, convert(published), what)
