"""The one place a torch device is chosen: ``resolve_device``.

Every stage that computes with torch (features, learners, embeddings) resolves its
``device`` key here, so that ``"auto"`` means the same everywhere: CUDA when this
machine has it, else the CPU. Feature tasks fix the device at plan time
(``repalign.features.plan.plan_device``) because their compute dtype, part of the
cache key, depends on it.
"""

from __future__ import annotations

from typing import Any

from repalign.errors import ValidationError


def resolve_device(device: Any = None):
    """``None`` or ``"auto"`` → CUDA when available, else CPU; otherwise the named
    device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``), which must exist
    here. Returns a ``torch.device``."""
    import torch

    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValidationError(f"unknown torch device {device!r}; use 'auto', 'cpu' or 'cuda'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValidationError(f"device {str(device)!r} requested but CUDA is not available")
    return dev
