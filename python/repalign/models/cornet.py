"""CORnet-Z, CORnet-R and CORnet-S (Kubilius et al. 2019, "Brain-like object recognition
with high-performing shallow recurrent ANNs", NeurIPS; arXiv:1909.06161), written anew
after the architecture of dicarlolab/CORnet (cornet/cornet_z.py, cornet_r.py,
cornet_s.py). Module names follow the published checkpoints (``V1``, ``V2``, ``V4``,
``IT``, ``decoder``; inside a block ``conv``/``conv_input``, ``norm*``, ``output``),
so a checkpoint's keys, less the ``module.`` prefix of DataParallel, load as they are.

Input: (B, 3, 224, 224) ImageNet-normalised images; output: (B, 1000) logits.
Layer names for extraction: ``V1``…``IT`` (their ``output`` submodules hold each
area's final activation), ``decoder.avgpool`` (B, 512, 1, 1) and ``penultimate``
(the input of ``decoder.linear``, (B, 512)).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


class _Flatten(nn.Module):
    def forward(self, x):
        return x.flatten(1)


class _Tap(nn.Identity):
    """Named pass-through, so every area's output has a layer name (``V4.output``)."""


def _decoder(with_tap: bool = True) -> nn.Sequential:
    parts = [("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", _Flatten()), ("linear", nn.Linear(512, 1000))]
    if with_tap:
        parts.append(("output", _Tap()))
    return nn.Sequential(OrderedDict(parts))


class ZBlock(nn.Module):
    """conv → ReLU → 3×3/2 max-pool (one CORnet-Z area)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)
        self.nonlin = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.output = _Tap()

    def forward(self, x):
        return self.output(self.pool(self.nonlin(self.conv(x))))


def cornet_z() -> nn.Sequential:
    """CORnet-Z: four feed-forward areas (64, 128, 256, 512 channels) and a linear decoder."""
    return nn.Sequential(
        OrderedDict(
            [
                ("V1", ZBlock(3, 64, kernel=7, stride=2)),
                ("V2", ZBlock(64, 128)),
                ("V4", ZBlock(128, 256)),
                ("IT", ZBlock(256, 512)),
                ("decoder", _decoder()),
            ]
        )
    )


class RBlock(nn.Module):
    """One CORnet-R area: an input convolution (strided) with GroupNorm, and a
    recurrent 3×3 convolution applied to input + state."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1):
        super().__init__()
        self.cout = cout
        self.conv_input = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)
        self.norm_input = nn.GroupNorm(32, cout)
        self.nonlin_input = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.norm1 = nn.GroupNorm(32, cout)
        self.nonlin1 = nn.ReLU(inplace=True)
        self.output = _Tap()

    def forward(self, inp, state):
        # inp None: the area has no input yet (t = 0 above V1); the state starts at zero
        if inp is not None:
            inp = self.nonlin_input(self.norm_input(self.conv_input(inp)))
        skip = (inp if inp is not None else 0) + (state if state is not None else 0)
        x = self.output(self.nonlin1(self.norm1(self.conv1(skip))))
        return x


class CORnetR(nn.Module):
    """CORnet-R: four recurrent areas unrolled for ``times`` steps (published: 5);
    at step t an area reads the previous area's output of step t − 1."""

    AREAS = ("V1", "V2", "V4", "IT")

    def __init__(self, times: int = 5):
        super().__init__()
        self.times = times
        self.V1 = RBlock(3, 64, kernel=7, stride=4)
        self.V2 = RBlock(64, 128, stride=2)
        self.V4 = RBlock(128, 256, stride=2)
        self.IT = RBlock(256, 512, stride=2)
        self.decoder = _decoder(with_tap=False)  # the published CORnet-R decoder has no output tap

    def _zeros_like_area(self, x: torch.Tensor, i: int) -> torch.Tensor:
        side = -(-x.shape[-1] // 4)  # V1 stride 4, then each area halves (ceil)
        for _ in range(i):
            side = -(-side // 2)
        block = getattr(self, self.AREAS[i])
        return x.new_zeros(x.shape[0], block.cout, side, side)

    def forward(self, x):
        outs: dict[str, torch.Tensor] = {}
        states: dict[str, torch.Tensor | None] = {}
        for i, a in enumerate(self.AREAS):  # t = 0: only V1 sees the image; the others run on zeros
            outs[a] = self.V1(x, None) if i == 0 else self._t0(a, x, i)
            states[a] = outs[a]
        for _ in range(1, self.times):
            prev = {"V1": x, "V2": outs["V1"], "V4": outs["V2"], "IT": outs["V4"]}
            for a in self.AREAS:
                outs[a] = getattr(self, a)(prev[a], states[a])
                states[a] = outs[a]
        return self.decoder(outs["IT"])

    def _t0(self, a: str, x: torch.Tensor, i: int) -> torch.Tensor:
        # the published t = 0 step of an area above V1: conv1 on a zero input (no input conv)
        block = getattr(self, a)
        zero = self._zeros_like_area(x, i)
        return block.output(block.nonlin1(block.norm1(block.conv1(zero))))


class SBlock(nn.Module):
    """One CORnet-S area: 1×1 input conv, then ``times`` bottleneck steps (×4 width)
    sharing weights but each with its own BatchNorms; the first step is strided and
    adds a strided 1×1 skip."""

    scale = 4

    def __init__(self, cin: int, cout: int, times: int):
        super().__init__()
        self.times = times
        w = cout * self.scale
        self.conv_input = nn.Conv2d(cin, cout, 1, bias=False)
        self.skip = nn.Conv2d(cout, cout, 1, stride=2, bias=False)
        self.norm_skip = nn.BatchNorm2d(cout)
        self.conv1 = nn.Conv2d(cout, w, 1, bias=False)
        self.nonlin1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(w, w, 3, stride=2, padding=1, bias=False)
        self.nonlin2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(w, cout, 1, bias=False)
        self.nonlin3 = nn.ReLU(inplace=True)
        self.output = _Tap()
        for t in range(times):
            setattr(self, f"norm1_{t}", nn.BatchNorm2d(w))
            setattr(self, f"norm2_{t}", nn.BatchNorm2d(w))
            setattr(self, f"norm3_{t}", nn.BatchNorm2d(cout))

    def forward(self, x):
        x = self.conv_input(x)
        for t in range(self.times):
            stride = 2 if t == 0 else 1
            skip = self.norm_skip(self.skip(x)) if t == 0 else x
            h = self.nonlin1(getattr(self, f"norm1_{t}")(self.conv1(x)))
            h = nn.functional.conv2d(h, self.conv2.weight, None, stride, 1)
            h = self.nonlin2(getattr(self, f"norm2_{t}")(h))
            h = getattr(self, f"norm3_{t}")(self.conv3(h))
            x = self.nonlin3(h + skip)
        return self.output(x)


def cornet_s() -> nn.Sequential:
    """CORnet-S: a two-conv V1, then V2/V4/IT bottleneck areas unrolled 2/4/2 times."""
    v1 = nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)),
                ("norm1", nn.BatchNorm2d(64)),
                ("nonlin1", nn.ReLU(inplace=True)),
                ("pool", nn.MaxPool2d(3, stride=2, padding=1)),
                ("conv2", nn.Conv2d(64, 64, 3, padding=1, bias=False)),
                ("norm2", nn.BatchNorm2d(64)),
                ("nonlin2", nn.ReLU(inplace=True)),
                ("output", _Tap()),
            ]
        )
    )
    return nn.Sequential(
        OrderedDict(
            [
                ("V1", v1),
                ("V2", SBlock(64, 128, 2)),
                ("V4", SBlock(128, 256, 4)),
                ("IT", SBlock(256, 512, 2)),
                ("decoder", _decoder()),
            ]
        )
    )


BUILDERS = {"cornet-z": cornet_z, "cornet-r": CORnetR, "cornet-s": cornet_s}


def convert(published: dict) -> dict:
    """Published checkpoint (``{'state_dict': {'module.V1.conv.weight': …}}``) → this module's state dict."""
    sd = published.get("state_dict", published)
    return {k.removeprefix("module."): v for k, v in sd.items()}
