"""GPU decoding for the decoded store (an option: ``[[models]] decode = "gpu"``).

On a GPU node the work of extraction is decoding and resizing JPEGs on the CPU
(issue #31: ResNet-50's forward runs at ~15,000 images/s, the CPU loaders at ~1,000).
With ``decode = "gpu"`` the decode task of a stimulus set (``decoded.write_store``)
decodes baseline JPEGs with nvJPEG (``torchvision.io.decode_jpeg(device="cuda")``) and
resizes + centre-crops them there (``torchvision.transforms.v2.functional``: bilinear
or bicubic with antialiasing, on uint8 tensors). Every other image — PNG and other
formats, progressive or arithmetic-coded JPEGs, grey or CMYK JPEGs, 12-bit JPEGs,
JPEGs with an Adobe colour transform, files whose header cannot be parsed — goes
through today's CPU path (PIL, ``decoded.apply_geometry``), which also gives
today's error message for a file that cannot be read.

The GPU's resize is not PIL's (different antialiasing filters and rounding), so its
pixels differ from the CPU path's: a store made this way has its own key
(``decoder = "gpu"`` in ``decoded.store_key``), and so do features read from it
(``extractor.cache_key``). How much the features and RDMs differ was not measured
(no GPU was available to this work): docs/performance.md.

The selection of images (``gpu_decodable``) and of the decoder (``select_decoder``)
need no GPU and are tested on the CPU; the decoding itself runs on any torch device
(tests run it on "cpu", where torchvision decodes with libjpeg).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from repalign.errors import ValidationError

DECODERS = ("cpu", "gpu", "auto")
# SOF markers: 0xC0 baseline, 0xC1 extended sequential (Huffman); nvJPEG's batched
# path handles these with 8-bit samples. 0xC2/0xC6/0xCA/0xCE progressive,
# 0xC3/0xC7/0xCB/0xCF lossless, 0xC9–0xCB arithmetic coding: left to the CPU.
_GPU_SOF = {0xC0: None, 0xC1: None}
_OTHER_SOF = {
    0xC2: "progressive",
    0xC3: "lossless",
    0xC5: "hierarchical",
    0xC6: "progressive hierarchical",
    0xC7: "lossless hierarchical",
    0xC9: "arithmetic-coded",
    0xCA: "progressive arithmetic-coded",
    0xCB: "lossless arithmetic-coded",
    0xCD: "hierarchical arithmetic-coded",
    0xCE: "progressive hierarchical arithmetic-coded",
    0xCF: "lossless hierarchical arithmetic-coded",
}


def gpu_decodable(data: bytes) -> str | None:
    """None when ``data`` is a JPEG the GPU path decodes (baseline or extended
    Huffman, 8-bit, 3 components, no Adobe colour transform), else why not (in a few
    words; the image then takes the CPU path).

    Reads the marker segments up to the first SOF (ITU-T T.81, annex B; Adobe's
    APP14 segment: Adobe Technical Note #5116)."""
    if data[:2] != b"\xff\xd8":
        return "not a JPEG"
    i, adobe = 2, False
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return "unreadable JPEG header"
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > len(data):
            return "unreadable JPEG header"
        body = data[i + 4 : i + 2 + length]
        if marker == 0xEE and body[:5] == b"Adobe":
            adobe = True
        if marker in _OTHER_SOF:
            return f"{_OTHER_SOF[marker]} JPEG"
        if marker in _GPU_SOF:
            if len(body) < 6:
                return "unreadable JPEG header"
            precision, components = body[0], body[5]
            if precision != 8:
                return f"{precision}-bit JPEG"
            if components != 3:
                return {1: "grey JPEG", 4: "CMYK/YCCK JPEG"}.get(components, f"JPEG with {components} components")
            if adobe:
                return "JPEG with an Adobe colour transform"
            return None
        if marker == 0xDA:  # start of scan before any frame header
            return "unreadable JPEG header"
        i += 2 + length
    return "unreadable JPEG header"


def select_decoder(decode: str, device: str | torch.device | None) -> str:
    """ "cpu" or "gpu": the decoder a decode task of a plan on ``device`` uses.

    decode: "cpu" (default, PIL: features equal to every earlier run), "gpu" (nvJPEG:
    needs the plan's device to be CUDA), "auto" (the GPU when the plan's device is
    CUDA, else the CPU)."""
    if decode not in DECODERS:
        raise ValidationError(f"unknown decode {decode!r}; valid: {', '.join(DECODERS)}")
    cuda = str(device or "cpu").startswith("cuda")
    if decode == "gpu" and not cuda:
        raise ValidationError(
            f'decode = "gpu" needs the features to be computed on a CUDA device; this plan '
            f'computes on {str(device or "cpu")!r} (set device = "cuda", or decode = "auto")'
        )
    return "gpu" if decode == "gpu" or (decode == "auto" and cuda) else "cpu"


def _tensor_ops(geometry: Sequence[Sequence]) -> list[tuple]:
    """The geometry as tensor operations: ("resize", [H, W] or [shorter], interpolation,
    max_size) and ("crop", H, W) steps."""
    from torchvision.transforms import InterpolationMode

    ops = []
    for step in geometry:
        if step[0] == "resize" and step[1] == "shorter":
            ops.append(("resize", [int(step[2])], InterpolationMode(step[3]), step[4]))
        elif step[0] == "resize":
            ops.append(("resize", [int(step[2]), int(step[3])], InterpolationMode(step[4]), None))
        elif step[0] == "center_crop":
            ops.append(("crop", int(step[1]), int(step[2])))
        else:
            raise ValidationError(f"unknown geometry step {step!r}")
    return ops


def decode_resize(datas: Sequence[bytes], geometry: Sequence[Sequence], device: str | torch.device) -> list[np.ndarray]:
    """JPEG bytes (each accepted by ``gpu_decodable``) → uint8 (H, W, 3) host arrays:
    decoded on ``device`` (nvJPEG on CUDA, batched), resized and centre-cropped there
    with antialiasing, copied back once per image."""
    import warnings

    from torchvision.io import ImageReadMode, decode_jpeg
    from torchvision.transforms.v2 import functional as F

    if not datas:
        return []
    device = torch.device(device)
    raw = [torch.frombuffer(bytearray(d), dtype=torch.uint8) for d in datas]
    with warnings.catch_warnings():  # torchvision 0.29 points to TorchCodec; its decoder works
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torchvision\.io")
        imgs = decode_jpeg(raw, mode=ImageReadMode.RGB, device=device)
    ops, out = _tensor_ops(geometry), []
    for img in imgs:  # (3, h, w) uint8 on the device
        for op in ops:
            if op[0] == "resize":
                img = F.resize(img, op[1], interpolation=op[2], max_size=op[3], antialias=True)
            else:
                img = F.center_crop(img, [op[1], op[2]])
        out.append(img.permute(1, 2, 0).contiguous().cpu().numpy())
    return out
