"""Zoo entries for the models of Demircan et al. 2024 (candemircan/naturalcogsci) and
Muttenthaler et al. 2023 that no library registry carries: their metadata
(``ModelSpec``) and how each is loaded.

Backends:
  published   a published checkpoint (``weights`` = its key in ``repalign.models.weights``)
              loaded into an architecture from ``repalign.models.checkpoints``
              (``architecture`` = "<family>:<arch>"): SLIP family, VISSL / torch-hub
              self-supervised ResNet-50s, CORnets, ecoset networks.
  glocal      ``glocal/<base zoo name>``: the base model followed by its published
              gLocal transform (``repalign.models.glocal``).
  language    a transformers encoder (``weights`` = hub id) pooled as the seed did
              (``repalign.models.language``); modality text.
  external    metadata only: weights this torch zoo cannot run (Keras / TensorFlow-hub
              models, LoRA adapters in the dreamsim package's format, a paid API, the
              fastText binary without the ``fasttext`` package). Loading one is an error
              naming where its weights come from and what would run it.

Names (naturalcogsci's figure labels in brackets):
  slip/{slip,clip,simclr}-vit-{small,base,large}   [SLIP-Small, CLIP-Small (SLIP), SimCLR-Small (SLIP), …]
  ssl/{simclr,mocov2,swav,pirl,jigsaw,rotnet,barlowtwins,vicreg,dino}-rn50
  cornet/cornet-{z,r,s}, ecoset/{resnet50,inception_v3}
  glocal/<base>  (7), harmonization/<arch> (7), dreamsim/<backbone> (3)
  text/{bert-base-uncased,distilbert-base-uncased,roberta-base,fasttext-crawl-300d-2M-subword,
        universal-sentence-encoder-4,text-embedding-ada-002}
"""

from __future__ import annotations

from functools import lru_cache

from repalign.models.spec import IMAGENET_MEAN, IMAGENET_STD, ModelSpec, Preprocess
from repalign.models.train_data import TRAIN_DATA

# thingsvision's default transform (resize 256, centre crop 224, ImageNet statistics):
# what the seed's extractor applied to every checkpoint model it built itself.
TV_DEFAULT = Preprocess(224, 256, IMAGENET_MEAN, IMAGENET_STD, "bilinear")

_IN1K_SIZE, _IN1K_SRC = TRAIN_DATA["ImageNet-1k"]
_YFCC_SIZE, _YFCC_SRC = TRAIN_DATA["YFCC-15M"]

# ------------------------------------------------------------------ SLIP family
_SLIP_OBJ = {"slip": "image-text contrastive + self-supervised", "clip": "image-text contrastive",
             "simclr": "self-supervised"}
_SLIP_PARAMS = {  # image tower (+ projection) of the built architecture, counted here
    ("slip", "small"): 21_862_272, ("clip", "small"): 21_862_272, ("simclr", "small"): 21_665_664,
    ("slip", "base"): 86_191_872, ("clip", "base"): 86_191_872, ("simclr", "base"): 85_798_656,
    ("slip", "large"): 303_825_920, ("clip", "large"): 303_825_920, ("simclr", "large"): 303_301_632,
}


def _slip_specs() -> list[ModelSpec]:
    out = []
    for obj in ("slip", "clip", "simclr"):
        for size in ("small", "base", "large"):
            out.append(ModelSpec(
                name=f"slip/{obj}-vit-{size}", backend="published", architecture=f"slip:{obj}-{size}",
                weights=f"slip-{obj}-{size}", family="ViT", objective=_SLIP_OBJ[obj], train_data="YFCC-15M",
                train_size=_YFCC_SIZE, params=_SLIP_PARAMS[(obj, size)], resolution=224,
                source=f"Mu et al. 2022 arXiv:2112.12750 (SLIP, facebookresearch/SLIP, 25-epoch {obj} ViT-{size[0].upper()}/16 "
                       f"on YFCC15M); size: {_YFCC_SRC}",
                default_layer="output", preprocess=TV_DEFAULT))
    return out


# ------------------------------------------------------------------ self-supervised ResNet-50s
_SSL = {  # zoo id: (weight key, family loader, paper)
    "simclr": ("vissl-simclr-rn50", "vissl", "Chen et al. 2020 arXiv:2002.05709 (SimCLR; VISSL model zoo, 800 ep)"),
    "mocov2": ("vissl-mocov2-rn50", "vissl", "Chen et al. 2020 arXiv:2003.04297 (MoCo v2; VISSL model zoo, 200 ep)"),
    "swav": ("vissl-swav-rn50", "vissl", "Caron et al. 2020 arXiv:2006.09882 (SwAV; VISSL model zoo, 800 ep)"),
    "pirl": ("vissl-pirl-rn50", "vissl", "Misra & van der Maaten 2020 arXiv:1912.01991 (PIRL; VISSL model zoo, 800 ep)"),
    "jigsaw": ("vissl-jigsaw-rn50", "vissl", "Noroozi & Favaro 2016 arXiv:1603.09246 / Goyal et al. 2019 (Jigsaw; VISSL model zoo, IN-1k, 2k permutations)"),
    "rotnet": ("vissl-rotnet-rn50", "vissl", "Gidaris et al. 2018 arXiv:1803.07728 (RotNet; VISSL model zoo, IN-1k)"),
    "barlowtwins": ("barlowtwins-rn50", "resnet50-trunk", "Zbontar et al. 2021 arXiv:2103.03230 (Barlow Twins; facebookresearch/barlowtwins)"),
    "vicreg": ("vicreg-rn50", "resnet50-trunk", "Bardes et al. 2022 arXiv:2105.04906 (VICReg; facebookresearch/vicreg)"),
    "dino": ("dino-rn50", "resnet50-trunk", "Caron et al. 2021 arXiv:2104.14294 (DINO ResNet-50; facebookresearch/dino)"),
}


def _ssl_specs() -> list[ModelSpec]:
    return [ModelSpec(
        name=f"ssl/{k}-rn50", backend="published", architecture=f"{fam}:resnet50", weights=w, family="ResNet",
        objective="self-supervised", train_data="ImageNet-1k", train_size=_IN1K_SIZE, params=23_508_032,
        resolution=224, source=f"{paper}; images only, labels unused; size: {_IN1K_SRC}", default_layer="output",
        preprocess=TV_DEFAULT) for k, (w, fam, paper) in _SSL.items()]


# ------------------------------------------------------------------ CORnets, ecoset
_CORNET_PARAMS = {"z": 2_071_656, "r": 5_208_936, "s": 53_416_616}
_ECOSET = ("ecoset", 1_500_000, "Mehrer et al. 2021 PNAS 118(8):e2011417118 (ecoset: 565 basic-level categories, "
           "1.5 million images; the paper's rounded figure)")


def _cornet_ecoset_specs() -> list[ModelSpec]:
    out = [ModelSpec(
        name=f"cornet/cornet-{x}", backend="published", architecture=f"cornet:cornet-{x}", weights=f"cornet-{x}",
        family="CORnet", objective="supervised", train_data="ImageNet-1k", train_size=_IN1K_SIZE,
        params=_CORNET_PARAMS[x], resolution=224,
        source=f"Kubilius et al. 2019 arXiv:1909.06161 (CORnet-{x.upper()}, dicarlolab/CORnet); size: {_IN1K_SRC}",
        default_layer="penultimate", preprocess=TV_DEFAULT) for x in ("z", "r", "s")]
    for arch, fam, params in (("resnet50", "ResNet", 24_665_717), ("inception_v3", "Inception", 25_935_434)):
        out.append(ModelSpec(
            name=f"ecoset/{arch}", backend="published", architecture=f"ecoset:{arch}", weights=f"ecoset-{arch}",
            family=fam, objective="supervised", train_data="ecoset", train_size=_ECOSET[1], params=params,
            resolution=224, source=f"Mehrer et al. 2021 (ecoset-trained {arch}, OSF weights via thingsvision); size: {_ECOSET[2]}",
            default_layer="penultimate", preprocess=TV_DEFAULT))
    return out


# ------------------------------------------------------------------ gLocal
GLOCAL_BASES = {  # zoo name of the base: (transform weight key, naturalcogsci label)
    "open_clip/RN50:openai": ("glocal-clip_RN50", "gLocal-CLIP-RN50"),
    "open_clip/ViT-L-14:openai": ("glocal-clip_ViT-L-14", "gLocal-CLIP-ViT-L/14"),
    "timm/vit_base_patch14_dinov2.lvd142m": ("glocal-dinov2-vit-base-p14", "gLocal-DINO-V2-ViT-B"),
    "timm/vit_large_patch14_dinov2.lvd142m": ("glocal-dinov2-vit-large-p14", "gLocal-DINO-V2-ViT-L"),
    "open_clip/ViT-B-32:laion400m_e32": ("glocal-OpenCLIP_ViT-B-32_laion400m_e32", "gLocal-OpenCLIP-ViT-B-Laion-400M"),
    "torchvision/resnet18:IMAGENET1K_V1": ("glocal-resnet18", "gLocal-ResNet-18"),
    "torchvision/resnet50:IMAGENET1K_V2": ("glocal-resnet50", "gLocal-ResNet-50"),
}
GLOCAL_SOURCE = ("Muttenthaler et al. 2023 arXiv:2306.04507 (gLocal transform, LukasMut/gLocal; fitted on THINGS "
                 "odd-one-out triplets, Hebart et al. 2023)")


def glocal_spec(name: str, base: ModelSpec) -> ModelSpec:
    from dataclasses import replace

    # DINOv2 transforms were fitted on thingsvision's 224-px features, not timm's 518 px
    pre = base.preprocess
    res = base.resolution
    if base.backend == "timm" and "dinov2" in base.architecture:
        pre, res = replace(TV_DEFAULT, interpolation="bicubic"), 224
    return ModelSpec(
        name=name, backend="glocal", architecture=base.name, weights=GLOCAL_BASES[base.name][0], family=base.family,
        objective="human-aligned", train_data=f"{base.train_data} + THINGS triplets", train_size=base.train_size,
        params=base.params, resolution=res, source=f"{GLOCAL_SOURCE}; base: {base.source}", default_layer="output",
        preprocess=pre)


# ------------------------------------------------------------------ metadata-only models
_HARMONIZATION = {  # zoo arch: (harmonization loader, Keras weight file, label)
    "resnet50": ("load_ResNet50", "resnet50v2_harmonized.h5", "Harmonization-RN50"),
    "vgg16": ("load_VGG16", "vgg16_harmonized.h5", "Harmonization-VGG16"),
    "efficientnet_b0": ("load_EfficientNetB0", "efficientnetB0_harmonized.h5", "Harmonization-EfficientNetB0"),
    "vit_b16": ("load_ViT_B16", "vit-b16_harmonized.h5", "Harmonization-ViT-B/16"),
    "convnext_tiny": ("load_tiny_ConvNeXT", "tiny_convnext_harmonized.h5", "Harmonization-ConvNeXt-T"),
    "maxvit_tiny": ("load_tiny_MaxViT", "tiny_maxvit_harmonized.h5", "Harmonization-MaxViT-T"),
    "levit_small": ("load_LeViT_small", "levit_small_harmonized.h5", "Harmonization-LeViT-S"),
}
_HARM_FAMILY = {"resnet50": "ResNet", "vgg16": "VGG", "efficientnet_b0": "EfficientNet", "vit_b16": "ViT",
                "convnext_tiny": "ConvNeXt", "maxvit_tiny": "MaxViT", "levit_small": "LeViT"}
HARMONIZATION_URL = "https://storage.googleapis.com/serrelab/prj_harmonization/models/"

_DREAMSIM = {  # backbone: (label, base data, size, source)
    "clip_vitb32": ("DreamSim-CLIP-ViT-B", "WIT-400M"),
    "open_clip_vitb32": ("DreamSim-OpenCLIP-ViT-B", "LAION-400M"),
    "dino_vitb16": ("DreamSim-DINO-ViT-B", "ImageNet-1k"),
}
DREAMSIM_URL = "https://github.com/ssundaram21/dreamsim/releases/download/v0.2.0-checkpoints/dreamsim_{}_checkpoint.zip"


def _external_specs() -> list[ModelSpec]:
    out = []
    for arch, (fn, h5, _label) in _HARMONIZATION.items():
        out.append(ModelSpec(
            name=f"harmonization/{arch}", backend="external", architecture=f"keras:{fn}", weights=HARMONIZATION_URL + h5,
            family=_HARM_FAMILY[arch], objective="human-aligned", train_data="ImageNet-1k + ClickMe",
            train_size=_IN1K_SIZE,
            source=f"Fel et al. 2022 arXiv:2211.04533 (neural harmonizer, serre-lab/harmonization {fn}; Keras weights); "
                   f"size: {_IN1K_SRC}", default_layer="output", preprocess=TV_DEFAULT))
    for bb, (_label, data) in _DREAMSIM.items():
        size, src = TRAIN_DATA[data]
        out.append(ModelSpec(
            name=f"dreamsim/{bb}", backend="external", architecture=f"dreamsim:{bb}", weights=DREAMSIM_URL.format(bb),
            family="ViT", objective="human-aligned", train_data=f"{data} + NIGHTS", train_size=size,
            source=f"Fu et al. 2023 arXiv:2306.09344 (DreamSim single-branch {bb}, LoRA on the base; "
                   f"ssundaram21/dreamsim); base size: {src}", default_layer="output",
            preprocess=Preprocess(224, 224, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "bicubic")))
    return out


_TEXT = [  # name, backend, architecture, weights, family, train_data, size, source
    ("text/bert-base-uncased", "language", "bert", "bert-base-uncased", "BERT", "BooksCorpus + English Wikipedia",
     3_300_000_000, "Devlin et al. 2019 arXiv:1810.04805 (BERT-base uncased; size: 800M + 2,500M words, §3.1)"),
    ("text/distilbert-base-uncased", "language", "distilbert", "distilbert-base-uncased", "BERT",
     "BooksCorpus + English Wikipedia", 3_300_000_000,
     "Sanh et al. 2019 arXiv:1910.01108 (DistilBERT, distilled on BERT's corpus; size: Devlin et al. 2019, words)"),
    ("text/roberta-base", "language", "roberta", "roberta-base", "RoBERTa", "BookCorpus, CC-News, OpenWebText, Stories",
     None, "Liu et al. 2019 arXiv:1907.11692 (RoBERTa-base; 160 GB of text, no word count published)"),
    ("text/fasttext-crawl-300d-2M-subword", "external", "fasttext",
     "https://dl.fbaipublicfiles.com/fasttext/vectors-english/crawl-300d-2M-subword.zip", "fastText", "Common Crawl",
     600_000_000_000, "Mikolov et al. 2018 arXiv:1712.09405 (fastText crawl-300d-2M-subword; size: 600B tokens)"),
    ("text/universal-sentence-encoder-4", "external", "tfhub", "https://tfhub.dev/google/universal-sentence-encoder/4",
     "USE", "web text + SNLI", None, "Cer et al. 2018 arXiv:1803.11175 (Universal Sentence Encoder v4, TF-hub; "
     "training-set size not published)"),
    ("text/text-embedding-ada-002", "external", "openai", "text-embedding-ada-002", "ada", "undisclosed", None,
     "OpenAI 2022 (text-embedding-ada-002, embeddings API; training data and size not published)"),
]


def _text_specs() -> list[ModelSpec]:
    return [ModelSpec(name=n, backend=b, architecture=a, weights=w, family=f, objective="text", train_data=d,
                      train_size=s, resolution=None, source=src, default_layer="output", modality="text",
                      preprocess=None) for n, b, a, w, f, d, s, src in _TEXT]


@lru_cache(maxsize=1)
def published_specs() -> dict[str, ModelSpec]:
    """name → ModelSpec of every fixed entry (gLocal names are built from their base: ``glocal_spec``)."""
    specs = _slip_specs() + _ssl_specs() + _cornet_ecoset_specs() + _external_specs() + _text_specs()
    return {s.name: s for s in specs}


PREFIXES = ("slip/", "ssl/", "cornet/", "ecoset/", "harmonization/", "dreamsim/", "text/")

# The 46 naturalcogsci models that no library registry carries, by the paper's figure labels.
NATURALCOGSCI_LABELS: dict[str, str] = {
    **{f"slip/{o}-vit-{s}": (f"SLIP-{s.title()}" if o == "slip" else f"{o.upper() if o == 'clip' else 'SimCLR'}-{s.title()} (SLIP)")
       for o in ("slip", "clip", "simclr") for s in ("small", "base", "large")},
    "ssl/simclr-rn50": "SimCLR", "ssl/mocov2-rn50": "MoCoV2", "ssl/swav-rn50": "SwAV", "ssl/pirl-rn50": "PiRL",
    "ssl/jigsaw-rn50": "Jigsaw", "ssl/rotnet-rn50": "RotNet", "ssl/barlowtwins-rn50": "Barlow Twins",
    "ssl/vicreg-rn50": "VicReg", "ssl/dino-rn50": "DINO-RN50",
    "cornet/cornet-z": "CORnet-Z", "cornet/cornet-r": "Cornet-R", "cornet/cornet-s": "Cornet-S",
    "ecoset/resnet50": "Resnet50-ecoset", "ecoset/inception_v3": "Inception-ecoset",
    **{f"glocal/{b}": label for b, (_k, label) in GLOCAL_BASES.items()},
    **{f"harmonization/{a}": v[2] for a, v in _HARMONIZATION.items()},
    **{f"dreamsim/{b}": v[0] for b, v in _DREAMSIM.items()},
    "text/bert-base-uncased": "BERT", "text/distilbert-base-uncased": "DistilBERT", "text/roberta-base": "RoBERTa",
    "text/fasttext-crawl-300d-2M-subword": "fastText", "text/universal-sentence-encoder-4": "Universal Sentence Encoder",
    "text/text-embedding-ada-002": "ada-002",
}
