"""Training-set sizes of the data sets that model weights were trained on.

Each entry maps a data-set name to (number of training images or image-text
pairs, source of that number). ``train_data_of`` maps a library's weight tag
(open_clip pretrained tag, timm tag, torchvision weight name) to an entry. Where
no published number is known the size is None, never a guess.
"""

from __future__ import annotations

import re

# name -> (size: images or image-text pairs, source)
TRAIN_DATA: dict[str, tuple[int | None, str]] = {
    "ImageNet-1k": (1_281_167, "Russakovsky et al. 2015, IJCV 115:211 (ILSVRC-2012 train set, 1,281,167 images)"),
    "ImageNet-21k": (
        14_197_122,
        "Deng et al. 2009 / Ridnik et al. 2021 arXiv:2104.10972 (full ImageNet, 14,197,122 images)",
    ),
    "WIT-400M": (400_000_000, "Radford et al. 2021 arXiv:2103.00020 (CLIP WebImageText, 400M pairs)"),
    "LAION-400M": (400_000_000, "Schuhmann et al. 2021 arXiv:2111.02114 (LAION-400M, 400M pairs)"),
    "LAION-2B-en": (2_320_000_000, "Schuhmann et al. 2022 arXiv:2210.08402 (LAION-2B-en, 2.32B pairs)"),
    "LAION-5B": (5_850_000_000, "Schuhmann et al. 2022 arXiv:2210.08402 (LAION-5B, 5.85B pairs)"),
    "DataComp-1B": (1_400_000_000, "Gadre et al. 2023 arXiv:2304.14108 (DataComp-1B, 1.4B pairs)"),
    "CommonPool-S": (12_800_000, "Gadre et al. 2023 arXiv:2304.14108 (small pool, 12.8M pairs, unfiltered)"),
    "CommonPool-M": (128_000_000, "Gadre et al. 2023 arXiv:2304.14108 (medium pool, 128M pairs, unfiltered)"),
    "CommonPool-L": (1_280_000_000, "Gadre et al. 2023 arXiv:2304.14108 (large pool, 1.28B pairs, unfiltered)"),
    "CommonPool-XL": (12_800_000_000, "Gadre et al. 2023 arXiv:2304.14108 (xlarge pool, 12.8B pairs, unfiltered)"),
    "YFCC-15M": (15_000_000, "Radford et al. 2021 arXiv:2103.00020 (YFCC100M subset, 15M pairs)"),
    "CC12M": (12_400_000, "Changpinyo et al. 2021 arXiv:2102.08981 (Conceptual 12M, 12.4M pairs)"),
    "DFN-2B": (2_000_000_000, "Fang et al. 2023 arXiv:2309.17425 (DFN-2B, 2B pairs)"),
    "DFN-5B": (5_000_000_000, "Fang et al. 2023 arXiv:2309.17425 (DFN-5B, 5B pairs)"),
    "MetaCLIP-400M": (400_000_000, "Xu et al. 2023 arXiv:2309.16671 (MetaCLIP 400M pairs)"),
    "MetaCLIP-2.5B": (2_500_000_000, "Xu et al. 2023 arXiv:2309.16671 (MetaCLIP full, 2.5B pairs)"),
    "WebLI": (10_000_000_000, "Chen et al. 2022 arXiv:2209.06794 (WebLI, 10B images)"),
    "Merged-2B": (2_000_000_000, "Sun et al. 2023 arXiv:2303.15389 (EVA-CLIP Merged-2B: LAION-2B + COYO-700M subset)"),
    "JFT-3B": (3_000_000_000, "Zhai et al. 2022 arXiv:2106.04560 (JFT-3B, about 3B images; Google-internal)"),
    "ALIGN-1.8B": (
        1_800_000_000,
        "Jia et al. 2021 arXiv:2102.05918 (ALIGN: 1.8B noisy image alt-text pairs; Google-internal)",
    ),
    "ALIGN+JFT-5B": (
        6_600_000_000,
        "Pham et al. 2023 arXiv:2111.10050 (BASIC: ALIGN's 1.7B + JFT-5B's 5B, 6.6B image-text pairs; Google-internal)",
    ),
    "sentence-pairs-1B": (
        1_170_060_424,
        "sentence-transformers/all-MiniLM-L6-v2 model card (1,170,060,424 training pairs)",
    ),
    "none": (0, "not trained (random initialisation or raw pixels)"),
}

# open_clip pretrained tag (regex, first match wins) -> data-set name
_OPEN_CLIP_TAGS: list[tuple[str, str]] = [
    (r"^openai$", "WIT-400M"),
    (r"^laion400m", "LAION-400M"),
    (r"^(frozen_)?laion5b", "LAION-5B"),
    (r"^laion2b", "LAION-2B-en"),
    (r"^datacomp(_xl_s13b|1b|_s34b)", "DataComp-1B"),
    (r"^commonpool_s_s13m", "CommonPool-S"),
    (r"^commonpool_m_s128m", "CommonPool-M"),
    (r"^commonpool_l_s1b", "CommonPool-L"),
    (r"^commonpool_xl_s13b", "CommonPool-XL"),
    (r"^yfcc15m$", "YFCC-15M"),
    (r"^cc12m$", "CC12M"),
    (r"^dfn2b", "DFN-2B"),
    (r"^dfn5b", "DFN-5B"),
    (r"^metaclip_400m$", "MetaCLIP-400M"),
    (r"^metaclip_fullcc$", "MetaCLIP-2.5B"),
    (r"^webli$", "WebLI"),
    (r"^merged2b", "Merged-2B"),
]

# timm / torchvision tags
_IMAGENET_TAGS: list[tuple[str, str]] = [
    (r"(in21k|in22k)", "ImageNet-21k"),
    (r"(^|_)(in1k|imagenet1k|tv_in1k|tv2_in1k|a1_in1k|a2_in1k|a3_in1k)($|_)|IMAGENET1K", "ImageNet-1k"),
    (r"^openai$", "WIT-400M"),
    (r"laion2b", "LAION-2B-en"),
    (r"laion400m", "LAION-400M"),
    (r"datacomp", "DataComp-1B"),
    (r"dfn2b", "DFN-2B"),
    (r"webli", "WebLI"),
]


def train_data_of(backend: str, tag: str | None) -> tuple[str, int | None, str]:
    """(data-set name, size, source) for a weight tag; ("", None, "") when unknown."""
    if not tag:
        return "", None, ""
    table = _OPEN_CLIP_TAGS if backend == "open_clip" else _IMAGENET_TAGS
    for pattern, name in table:
        if re.search(pattern, tag):
            size, source = TRAIN_DATA[name]
            return name, size, source
    return "", None, ""
