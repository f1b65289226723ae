"""gLocal: a human-aligned affine transform applied to a base model's features
(Muttenthaler et al. 2023, "Improving neural network representations using human
similarity judgments", NeurIPS; arXiv:2306.04507; transforms published in
LukasMut/gLocal ``transforms/<model>/<module>/transform.npz`` and applied as in
thingsvision ``utils/alignment/transforms.py`` and the naturalcogsci seed's
``feature_extractors.py``):

    y = ((x − mean) / std) @ weights (+ bias)

with ``mean``/``std`` scalars (the training features' global statistics),
``weights`` (d, d) and ``bias`` (d,) when present. ``x`` is the base model's feature
at the module the transform was fitted on (CLIP ``visual``: the image embedding;
DINOv2 ``norm``: the CLS token; ResNet ``avgpool``: the pooled features).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from repalign.errors import MalformedDataError


class GLocalTransform(nn.Module):
    """The published affine map as a module: (B, d) → (B, d)."""

    def __init__(self, weights: np.ndarray, mean: float, std: float, bias: np.ndarray | None = None):
        super().__init__()
        w = torch.as_tensor(np.asarray(weights), dtype=torch.float32)
        self.register_buffer("weights", w)
        self.register_buffer("mean", torch.as_tensor(float(mean)))
        self.register_buffer("std", torch.as_tensor(float(std)))
        self.register_buffer(
            "bias",
            torch.as_tensor(np.asarray(bias), dtype=torch.float32) if bias is not None else torch.zeros(w.shape[1]),
        )

    @classmethod
    def from_npz(cls, path, what: str) -> GLocalTransform:
        """Read a published ``transform.npz`` (keys weights, mean, std[, bias])."""
        try:
            z = np.load(path)
        except Exception as exc:
            raise MalformedDataError(f"{what}: cannot read gLocal transform {path}: {exc}") from exc
        missing = [k for k in ("weights", "mean", "std") if k not in z.files]
        if missing:
            raise MalformedDataError(f"{what}: gLocal transform {path} lacks key(s) {missing}; has {z.files}")
        w = z["weights"]
        if w.ndim != 2:
            raise MalformedDataError(f"{what}: gLocal transform {path}: weights of shape {w.shape}, expected (d, d)")
        return cls(w, z["mean"], z["std"], z["bias"] if "bias" in z.files else None)

    def forward(self, x):
        x = x.flatten(1).to(self.weights.dtype)
        if x.shape[1] != self.weights.shape[0]:
            raise MalformedDataError(f"gLocal transform expects {self.weights.shape[0]}-d features, got {x.shape[1]}")
        return (x - self.mean) / self.std @ self.weights + self.bias


class GLocalModel(nn.Module):
    """Base model (``base``, its feature at the fitted module as its output) followed by
    the transform (``transform``). Output (B, d); ``base.<name>`` reaches base layers."""

    def __init__(self, base: nn.Module, transform: GLocalTransform):
        super().__init__()
        self.base = base
        self.transform = transform

    def forward(self, x):
        return self.transform(self.base(x))
