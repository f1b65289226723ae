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
              fastText binary without the ``fasttext`` package; Muttenthaler et al. 2023's
              Google-internal checkpoints and JAX ViTs). Loading one is an error naming
              where its weights come from and what would run it.

Names (naturalcogsci's figure labels in brackets):
  slip/{slip,clip,simclr}-vit-{small,base,large}   [SLIP-Small, CLIP-Small (SLIP), SimCLR-Small (SLIP), …]
  ssl/{simclr,mocov2,swav,pirl,jigsaw,rotnet,barlowtwins,vicreg,dino}-rn50
  cornet/cornet-{z,r,s}, ecoset/{resnet50,inception_v3}
  glocal/<base>  (7), harmonization/<arch> (7), dreamsim/<backbone> (3)
  google/<networks.csv name> (30, human_alignment: not published), augreg/vit-{S,B,L}_{16,32}-i{1,21}k (8)
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
_SLIP_OBJ = {
    "slip": "image-text contrastive + self-supervised",
    "clip": "image-text contrastive",
    "simclr": "self-supervised",
}
_SLIP_PARAMS = {  # image tower (+ projection) of the built architecture, counted here
    ("slip", "small"): 21_862_272,
    ("clip", "small"): 21_862_272,
    ("simclr", "small"): 21_665_664,
    ("slip", "base"): 86_191_872,
    ("clip", "base"): 86_191_872,
    ("simclr", "base"): 85_798_656,
    ("slip", "large"): 303_825_920,
    ("clip", "large"): 303_825_920,
    ("simclr", "large"): 303_301_632,
}


def _slip_specs() -> list[ModelSpec]:
    out = []
    for obj in ("slip", "clip", "simclr"):
        for size in ("small", "base", "large"):
            out.append(
                ModelSpec(
                    name=f"slip/{obj}-vit-{size}",
                    backend="published",
                    architecture=f"slip:{obj}-{size}",
                    weights=f"slip-{obj}-{size}",
                    family="ViT",
                    objective=_SLIP_OBJ[obj],
                    train_data="YFCC-15M",
                    train_size=_YFCC_SIZE,
                    params=_SLIP_PARAMS[(obj, size)],
                    resolution=224,
                    source="Mu et al. 2022 arXiv:2112.12750 (SLIP, facebookresearch/SLIP, "
                    f"25-epoch {obj} ViT-{size[0].upper()}/16 "
                    f"on YFCC15M); size: {_YFCC_SRC}",
                    default_layer="output",
                    preprocess=TV_DEFAULT,
                )
            )
    return out


# ------------------------------------------------------------------ self-supervised ResNet-50s
_SSL = {  # zoo id: (weight key, family loader, paper)
    "simclr": ("vissl-simclr-rn50", "vissl", "Chen et al. 2020 arXiv:2002.05709 (SimCLR; VISSL model zoo, 800 ep)"),
    "mocov2": ("vissl-mocov2-rn50", "vissl", "Chen et al. 2020 arXiv:2003.04297 (MoCo v2; VISSL model zoo, 200 ep)"),
    "swav": ("vissl-swav-rn50", "vissl", "Caron et al. 2020 arXiv:2006.09882 (SwAV; VISSL model zoo, 800 ep)"),
    "pirl": (
        "vissl-pirl-rn50",
        "vissl",
        "Misra & van der Maaten 2020 arXiv:1912.01991 (PIRL; VISSL model zoo, 800 ep)",
    ),
    "jigsaw": (
        "vissl-jigsaw-rn50",
        "vissl",
        "Noroozi & Favaro 2016 arXiv:1603.09246 / Goyal et al. 2019 (Jigsaw; VISSL model zoo, IN-1k, 2k permutations)",
    ),
    "rotnet": ("vissl-rotnet-rn50", "vissl", "Gidaris et al. 2018 arXiv:1803.07728 (RotNet; VISSL model zoo, IN-1k)"),
    "barlowtwins": (
        "barlowtwins-rn50",
        "resnet50-trunk",
        "Zbontar et al. 2021 arXiv:2103.03230 (Barlow Twins; facebookresearch/barlowtwins)",
    ),
    "vicreg": (
        "vicreg-rn50",
        "resnet50-trunk",
        "Bardes et al. 2022 arXiv:2105.04906 (VICReg; facebookresearch/vicreg)",
    ),
    "dino": (
        "dino-rn50",
        "resnet50-trunk",
        "Caron et al. 2021 arXiv:2104.14294 (DINO ResNet-50; facebookresearch/dino)",
    ),
}


def _ssl_specs() -> list[ModelSpec]:
    return [
        ModelSpec(
            name=f"ssl/{k}-rn50",
            backend="published",
            architecture=f"{fam}:resnet50",
            weights=w,
            family="ResNet",
            objective="self-supervised",
            train_data="ImageNet-1k",
            train_size=_IN1K_SIZE,
            params=23_508_032,
            resolution=224,
            source=f"{paper}; images only, labels unused; size: {_IN1K_SRC}",
            default_layer="output",
            preprocess=TV_DEFAULT,
        )
        for k, (w, fam, paper) in _SSL.items()
    ]


# ------------------------------------------------------------------ CORnets, ecoset
_CORNET_PARAMS = {"z": 2_071_656, "r": 5_208_936, "s": 53_416_616}
_ECOSET = (
    "ecoset",
    1_500_000,
    "Mehrer et al. 2021 PNAS 118(8):e2011417118 (ecoset: 565 basic-level categories, "
    "1.5 million images; the paper's rounded figure)",
)


def _cornet_ecoset_specs() -> list[ModelSpec]:
    out = [
        ModelSpec(
            name=f"cornet/cornet-{x}",
            backend="published",
            architecture=f"cornet:cornet-{x}",
            weights=f"cornet-{x}",
            family="CORnet",
            objective="supervised",
            train_data="ImageNet-1k",
            train_size=_IN1K_SIZE,
            params=_CORNET_PARAMS[x],
            resolution=224,
            source=f"Kubilius et al. 2019 arXiv:1909.06161 (CORnet-{x.upper()}, dicarlolab/CORnet); size: {_IN1K_SRC}",
            default_layer="penultimate",
            preprocess=TV_DEFAULT,
        )
        for x in ("z", "r", "s")
    ]
    for arch, fam, params in (("resnet50", "ResNet", 24_665_717), ("inception_v3", "Inception", 25_935_434)):
        out.append(
            ModelSpec(
                name=f"ecoset/{arch}",
                backend="published",
                architecture=f"ecoset:{arch}",
                weights=f"ecoset-{arch}",
                family=fam,
                objective="supervised",
                train_data="ecoset",
                train_size=_ECOSET[1],
                params=params,
                resolution=224,
                source=f"Mehrer et al. 2021 (ecoset-trained {arch}, OSF weights via thingsvision); size: {_ECOSET[2]}",
                default_layer="penultimate",
                preprocess=TV_DEFAULT,
            )
        )
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
GLOCAL_SOURCE = (
    "Muttenthaler et al. 2023 arXiv:2306.04507 (gLocal transform, LukasMut/gLocal; fitted on THINGS "
    "odd-one-out triplets, Hebart et al. 2023)"
)


def glocal_spec(name: str, base: ModelSpec) -> ModelSpec:
    from dataclasses import replace

    # DINOv2 transforms were fitted on thingsvision's 224-px features, not timm's 518 px
    pre = base.preprocess
    res = base.resolution
    if base.backend == "timm" and "dinov2" in base.architecture:
        pre, res = replace(TV_DEFAULT, interpolation="bicubic"), 224
    return ModelSpec(
        name=name,
        backend="glocal",
        architecture=base.name,
        weights=GLOCAL_BASES[base.name][0],
        family=base.family,
        objective="human-aligned",
        train_data=f"{base.train_data} + THINGS triplets",
        train_size=base.train_size,
        params=base.params,
        resolution=res,
        source=f"{GLOCAL_SOURCE}; base: {base.source}",
        default_layer="output",
        preprocess=pre,
    )


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
_HARM_FAMILY = {
    "resnet50": "ResNet",
    "vgg16": "VGG",
    "efficientnet_b0": "EfficientNet",
    "vit_b16": "ViT",
    "convnext_tiny": "ConvNeXt",
    "maxvit_tiny": "MaxViT",
    "levit_small": "LeViT",
}
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
        out.append(
            ModelSpec(
                name=f"harmonization/{arch}",
                backend="external",
                architecture=f"keras:{fn}",
                weights=HARMONIZATION_URL + h5,
                family=_HARM_FAMILY[arch],
                objective="human-aligned",
                train_data="ImageNet-1k + ClickMe",
                train_size=_IN1K_SIZE,
                source="Fel et al. 2022 arXiv:2211.04533 (neural harmonizer, "
                f"serre-lab/harmonization {fn}; Keras weights); "
                f"size: {_IN1K_SRC}",
                default_layer="output",
                preprocess=TV_DEFAULT,
            )
        )
    for bb, (_label, data) in _DREAMSIM.items():
        size, src = TRAIN_DATA[data]
        out.append(
            ModelSpec(
                name=f"dreamsim/{bb}",
                backend="external",
                architecture=f"dreamsim:{bb}",
                weights=DREAMSIM_URL.format(bb),
                family="ViT",
                objective="human-aligned",
                train_data=f"{data} + NIGHTS",
                train_size=size,
                source=f"Fu et al. 2023 arXiv:2306.09344 (DreamSim single-branch {bb}, LoRA on the base; "
                f"ssundaram21/dreamsim); base size: {src}",
                default_layer="output",
                preprocess=Preprocess(224, 224, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "bicubic"),
            )
        )
    return out


_TEXT = [  # name, backend, architecture, weights, family, train_data, size, source
    (
        "text/bert-base-uncased",
        "language",
        "bert",
        "bert-base-uncased",
        "BERT",
        "BooksCorpus + English Wikipedia",
        3_300_000_000,
        "Devlin et al. 2019 arXiv:1810.04805 (BERT-base uncased; size: 800M + 2,500M words, §3.1)",
    ),
    (
        "text/distilbert-base-uncased",
        "language",
        "distilbert",
        "distilbert-base-uncased",
        "BERT",
        "BooksCorpus + English Wikipedia",
        3_300_000_000,
        "Sanh et al. 2019 arXiv:1910.01108 (DistilBERT, distilled on BERT's corpus; size: Devlin et al. 2019, words)",
    ),
    (
        "text/roberta-base",
        "language",
        "roberta",
        "roberta-base",
        "RoBERTa",
        "BookCorpus, CC-News, OpenWebText, Stories",
        None,
        "Liu et al. 2019 arXiv:1907.11692 (RoBERTa-base; 160 GB of text, no word count published)",
    ),
    (
        "text/fasttext-crawl-300d-2M-subword",
        "external",
        "fasttext",
        "https://dl.fbaipublicfiles.com/fasttext/vectors-english/crawl-300d-2M-subword.zip",
        "fastText",
        "Common Crawl",
        600_000_000_000,
        "Mikolov et al. 2018 arXiv:1712.09405 (fastText crawl-300d-2M-subword; size: 600B tokens)",
    ),
    (
        "text/universal-sentence-encoder-4",
        "external",
        "tfhub",
        "https://tfhub.dev/google/universal-sentence-encoder/4",
        "USE",
        "web text + SNLI",
        None,
        "Cer et al. 2018 arXiv:1803.11175 (Universal Sentence Encoder v4, TF-hub; training-set size not published)",
    ),
    (
        "text/text-embedding-ada-002",
        "external",
        "openai",
        "text-embedding-ada-002",
        "ada",
        "undisclosed",
        None,
        "OpenAI 2022 (text-embedding-ada-002, embeddings API; training data and size not published)",
    ),
]


def _text_specs() -> list[ModelSpec]:
    return [
        ModelSpec(
            name=n,
            backend=b,
            architecture=a,
            weights=w,
            family=f,
            objective="text",
            train_data=d,
            train_size=s,
            resolution=None,
            source=src,
            default_layer="output",
            modality="text",
            preprocess=None,
        )
        for n, b, a, w, f, d, s, src in _TEXT
    ]


# ------------------------------------------------------------------ human_alignment: models no zoo can load
# Muttenthaler et al. 2023 (LukasMut/human_alignment networks.csv): 38 rows whose weights this
# zoo cannot fetch. Metadata only (backend "external"); the architecture's parameters are
# counted here on the library named, with a 1000-class head (TF-slim checkpoints have 1001).
_KORNBLITH_2021 = (
    "Kornblith et al. 2021 arXiv:2010.16402 (Why do better loss functions lead to less transferable "
    "features?; ResNet-50 trained on ImageNet with the {} loss, seed 0; Google-internal checkpoint)"
)
_KORNBLITH_2019 = (
    "Kornblith, Shlens & Le 2019 arXiv:1805.08974 (Do better ImageNet models transfer better?; "
    "{} retrained on ImageNet{}; Google-internal checkpoint)"
)
_LOSSES = {
    "softmax": "softmax cross-entropy",
    "label_smoothing": "label-smoothing",
    "sigmoid": "sigmoid",
    "extra_wd": "extra final-layer weight decay",
    "dropout": "dropout",
    "logit_penalty": "logit penalty",
    "nt_xent": "cosine softmax (NT-Xent)",
    "nt_xent_weights": "cosine softmax with weight normalisation",
    "squared_error": "squared error",
    "autoaugment": "softmax + AutoAugment",
    "mixup": "softmax + mixup",
}
# networks.csv name: (family, params, how counted, description for the source)
_RETRAINED = {
    "densenet_121_keras-retrained-no_ls": ("DenseNet", 7_978_856, "torchvision densenet121", "DenseNet-121"),
    "densenet_169_keras-retrained-no_ls": ("DenseNet", 14_149_480, "torchvision densenet169", "DenseNet-169"),
    "densenet_201_keras-retrained-no_ls": ("DenseNet", 20_013_928, "torchvision densenet201", "DenseNet-201"),
    "inception_resnet_v2-retrained-no_ls-no_dropout-no_aux": (
        "Inception",
        55_843_464,
        "timm inception_resnet_v2",
        "Inception-ResNet v2",
    ),
    "inception_v1-retrained-no_ls+scale-no_dropout": (
        "Inception",
        6_624_904,
        "torchvision googlenet without auxiliary heads",
        "Inception v1",
    ),
    "inception_v2-retrained-no_ls+scale-no_dropout": ("Inception", None, "", "Inception v2 (BN-Inception)"),
    "inception_v3-retrained-no_ls-no_dropout-no_aux": (
        "Inception",
        23_834_568,
        "timm inception_v3 (no auxiliary head)",
        "Inception v3",
    ),
    "inception_v4-retrained-no_ls-no_dropout-no_aux": ("Inception", 42_679_816, "timm inception_v4", "Inception v4"),
    "mobilenet_v1-retrained-no_ls": ("MobileNet", 4_231_976, "timm mobilenetv1_100", "MobileNet v1 1.0"),
    "mobilenet_v2-retrained-no_ls-no_dropout": ("MobileNet", 3_504_872, "torchvision mobilenet_v2", "MobileNet v2 1.0"),
    "mobilenet_v2_1": ("MobileNet", 3_504_872, "torchvision mobilenet_v2", "MobileNet v2 1.0"),
    "nasnet_large-retrained-no_ls-no_dropout-no_aux": ("NASNet", 88_753_150, "timm nasnetalarge", "NASNet-A Large"),
    "nasnet_mobile-retrained-no_ls-no_dropout-no_aux": ("NASNet", None, "", "NASNet-A Mobile"),
    "resnet_v1_50_tpu-retrained-no_ls": ("ResNet", 25_557_032, "torchvision resnet50", "ResNet-50 v1"),
    "resnet_v1_101_tpu-retrained-no_ls": ("ResNet", 44_549_160, "torchvision resnet101", "ResNet-101 v1"),
    "resnet_v1_152_tpu-retrained-no_ls": ("ResNet", 60_192_808, "torchvision resnet152", "ResNet-152 v1"),
}
# Steiner et al. 2021 ViTs (JAX): networks.csv name -> (timm architecture, params counted there)
_AUGREG = {
    "vit-S_32-i21k": ("vit_small_patch32_224", 22_878_952),
    "vit-B_16-i1k": ("vit_base_patch16_224", 86_567_656),
    "vit-L_16-i1k": ("vit_large_patch16_224", 304_326_632),
    "vit-B_32-i1k": ("vit_base_patch32_224", 88_224_232),
    "vit-S_32-i1k": ("vit_small_patch32_224", 22_878_952),
    "vit-B_32-i21k": ("vit_base_patch32_224", 88_224_232),
    "vit-B_16-i21k": ("vit_base_patch16_224", 86_567_656),
    "vit-L_16-i21k": ("vit_large_patch16_224", 304_326_632),
}
AUGREG_URL = "https://storage.googleapis.com/vit_models/augreg/index.csv"
UNPUBLISHED = "not published (Google-internal checkpoint; the seed's authors ran it at Google)"


def _human_alignment_specs() -> list[ModelSpec]:
    out = []
    for loss, what in _LOSSES.items():
        out.append(
            ModelSpec(
                name=f"google/resnet_v1_50_tpu_{loss}_seed0",
                backend="external",
                architecture="unpublished:resnet_v1_50",
                weights=UNPUBLISHED,
                family="ResNet",
                objective="supervised",
                train_data="ImageNet-1k",
                train_size=_IN1K_SIZE,
                params=25_557_032,
                source=f"{_KORNBLITH_2021.format(what)}; params: counted here (torchvision resnet50); "
                f"size: {_IN1K_SRC}",
                default_layer="penultimate",
                preprocess=None,
            )
        )
    for name, (fam, params, counted, arch) in _RETRAINED.items():
        how = (
            ""
            if name == "mobilenet_v2_1"
            else " without label smoothing"
            + (", dropout" if "no_dropout" in name else "")
            + (" or auxiliary head" if "no_aux" in name else "")
        )
        src = (
            _KORNBLITH_2019.format(arch, how)
            if name != "mobilenet_v2_1"
            else (
                "Sandler et al. 2018 arXiv:1801.04381 (MobileNet v2, width 1.0, as networks.csv lists it among "
                "Kornblith et al. 2019's checkpoints; Google-internal checkpoint)"
            )
        )
        cnt = f"counted here ({counted})" if params else "no architecture here to count it; not stated by the seed"
        out.append(
            ModelSpec(
                name=f"google/{name}",
                backend="external",
                architecture=f"unpublished:{arch}",
                weights=UNPUBLISHED,
                family=fam,
                objective="supervised",
                train_data="ImageNet-1k",
                train_size=_IN1K_SIZE,
                params=params,
                source=f"{src}; params: {cnt}; size: {_IN1K_SRC}",
                default_layer="penultimate",
                preprocess=None,
            )
        )
    big = [
        (
            "google/vit-G_14_224",
            "ViT",
            "supervised",
            "JFT-3B",
            1_844_440_680,
            "counted here (timm vit_gigantic_patch14_224)",
            "Zhai et al. 2022 arXiv:2106.04560 (Scaling Vision Transformers, ViT-G/14 pre-trained on JFT-3B, "
            "fine-tuned on ImageNet)",
        ),
        (
            "google/basic-l",
            "CoAtNet",
            "image-text contrastive",
            "ALIGN+JFT-5B",
            None,
            "image tower (CoAtNet-7) not counted here; the whole image-text model has 3B weights",
            "Pham et al. 2021 arXiv:2111.10050 (BASIC-L, image tower CoAtNet-7)",
        ),
        (
            "google/align",
            "EfficientNet",
            "image-text contrastive",
            "ALIGN-1.8B",
            480_309_308,
            "image tower counted here (timm tf_efficientnet_l2 with its ImageNet head)",
            "Jia et al. 2021 arXiv:2102.05918 (ALIGN, image tower EfficientNet-L2)",
        ),
    ]
    for name, fam, obj, data, params, cnt, paper in big:
        size, src = TRAIN_DATA[data]
        out.append(
            ModelSpec(
                name=name,
                backend="external",
                architecture=f"unpublished:{name.split('/')[1]}",
                weights=UNPUBLISHED,
                family=fam,
                objective=obj,
                train_data=data,
                train_size=size,
                params=params,
                resolution=224 if "vit-G" in name else None,  # ALIGN, BASIC: input size not checked here
                source=f"{paper}; Google-internal checkpoint; params: {cnt}; size: {src}",
                default_layer="penultimate",
                preprocess=None,
            )
        )
    for name, (arch, params) in _AUGREG.items():
        data = "ImageNet-21k" if name.endswith("i21k") else "ImageNet-1k"
        size, src = TRAIN_DATA[data]
        out.append(
            ModelSpec(
                name=f"augreg/{name}",
                backend="external",
                architecture=f"augreg:{arch}",
                weights=AUGREG_URL,
                family="ViT",
                objective="supervised",
                train_data=data,
                train_size=size,
                params=params,
                source="Steiner et al. 2022 arXiv:2106.10270 (How to train your ViT?, JAX checkpoint "
                f"{'pre-trained on ImageNet-21k, ' if data != 'ImageNet-1k' else ''}"
                "fine-tuned on ImageNet-1k; which checkpoint of the release the seed used is not recorded in its "
                "code); "
                f"params: counted here (timm {arch}); size: {src}",
                default_layer="penultimate",
                preprocess=None,
            )
        )
    return out


# networks.csv rows (Muttenthaler et al. 2023) that repeat another row's model
HUMAN_ALIGNMENT_DUPLICATES = {"clip-ViT": "open_clip/ViT-B-32:openai", "clip-RN": "open_clip/RN50:openai"}


@lru_cache(maxsize=1)
def published_specs() -> dict[str, ModelSpec]:
    """name → ModelSpec of every fixed entry (gLocal names are built from their base: ``glocal_spec``)."""
    specs = (
        _slip_specs()
        + _ssl_specs()
        + _cornet_ecoset_specs()
        + _external_specs()
        + _text_specs()
        + _human_alignment_specs()
    )
    return {s.name: s for s in specs}


PREFIXES = ("slip/", "ssl/", "cornet/", "ecoset/", "harmonization/", "dreamsim/", "text/", "google/", "augreg/")

# The 46 naturalcogsci models that no library registry carries, by the paper's figure labels.
NATURALCOGSCI_LABELS: dict[str, str] = {
    **{
        f"slip/{o}-vit-{s}": (
            f"SLIP-{s.title()}" if o == "slip" else f"{o.upper() if o == 'clip' else 'SimCLR'}-{s.title()} (SLIP)"
        )
        for o in ("slip", "clip", "simclr")
        for s in ("small", "base", "large")
    },
    "ssl/simclr-rn50": "SimCLR",
    "ssl/mocov2-rn50": "MoCoV2",
    "ssl/swav-rn50": "SwAV",
    "ssl/pirl-rn50": "PiRL",
    "ssl/jigsaw-rn50": "Jigsaw",
    "ssl/rotnet-rn50": "RotNet",
    "ssl/barlowtwins-rn50": "Barlow Twins",
    "ssl/vicreg-rn50": "VicReg",
    "ssl/dino-rn50": "DINO-RN50",
    "cornet/cornet-z": "CORnet-Z",
    "cornet/cornet-r": "Cornet-R",
    "cornet/cornet-s": "Cornet-S",
    "ecoset/resnet50": "Resnet50-ecoset",
    "ecoset/inception_v3": "Inception-ecoset",
    **{f"glocal/{b}": label for b, (_k, label) in GLOCAL_BASES.items()},
    **{f"harmonization/{a}": v[2] for a, v in _HARMONIZATION.items()},
    **{f"dreamsim/{b}": v[0] for b, v in _DREAMSIM.items()},
    "text/bert-base-uncased": "BERT",
    "text/distilbert-base-uncased": "DistilBERT",
    "text/roberta-base": "RoBERTa",
    "text/fasttext-crawl-300d-2M-subword": "fastText",
    "text/universal-sentence-encoder-4": "Universal Sentence Encoder",
    "text/text-embedding-ada-002": "ada-002",
}
