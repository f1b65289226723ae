"""Layer names of a model: any named submodule's output (``name``) or input
(``name:in``), plus two aliases: ``output`` (the model's own output) and
``penultimate`` (the input of the final classifier)."""

from __future__ import annotations

import difflib
import functools

import torch
from torch import nn

from repalign.errors import ValidationError
from repalign.models.spec import ModelSpec

ALIASES = ("output", "penultimate")


def _classifier_name(module: nn.Module, spec: ModelSpec) -> str | None:
    names = dict(module.named_modules())
    if spec.backend == "packaged":
        return "_fc"
    if spec.backend in ("open_clip", "pixels", "text", "glocal", "language", "external"):
        return None  # no classifier head: use "output"
    if spec.backend == "published" and spec.default_layer != "penultimate":
        return None  # heads removed (SLIP, self-supervised trunks): "output" is the embedding
    cfg = getattr(module, "pretrained_cfg", None) or {}
    cls = cfg.get("classifier") if isinstance(cfg, dict) else None
    if isinstance(cls, str) and cls in names:
        return cls
    last = None
    for n, m in module.named_modules():
        if isinstance(m, nn.Linear):
            last = n
    return last


def resolve_layer(module: nn.Module, spec: ModelSpec, layer: str) -> tuple[str, str]:
    """(submodule name, "out" | "in") for a layer name; "" is the root module.

    Unknown names raise ValidationError listing the valid ones.
    """
    if layer == "output":
        return "", "out"
    if layer == "penultimate":
        cls = _classifier_name(module, spec)
        if cls is None:
            raise ValidationError(
                f"model {spec.name!r} has no classifier: layer 'penultimate' is undefined; "
                f"use 'output' or a module name (`repalign models layers {spec.name}`)"
            )
        return cls, "in"
    name, _, where = layer.partition(":")
    names = [n for n, _ in module.named_modules() if n]
    if where not in ("", "in", "out") or name not in names:
        # five names, not all (~200 for a ResNet): the closest, else the first ones
        close = difflib.get_close_matches(name, names, n=5)
        hint = f"closest: {', '.join(close)}" if close else f"first module names: {', '.join(names[:5])}"
        raise ValidationError(
            f"unknown layer {layer!r} for model {spec.name!r} ({hint}); valid: {', '.join(ALIASES)} or any of its "
            f"{len(names)} module names, optionally suffixed ':in' (its input): `repalign models layers {spec.name}`"
        )
    return name, where or "out"


def list_layers(module: nn.Module, spec: ModelSpec, shapes: bool = True) -> list[tuple[str, str, str]]:
    """(name, module type, output shape of one image) for every layer; the
    shapes come from one forward pass on a zero image at the model's resolution."""
    out_shapes: dict[str, str] = {}
    if shapes and spec.modality == "image" and spec.resolution:
        hooks = []

        def record(name):
            def hook(_m, _inp, out):
                t = out[0] if isinstance(out, (tuple, list)) and out and torch.is_tensor(out[0]) else out
                if torch.is_tensor(t):
                    out_shapes[name] = "×".join(map(str, tuple(t.shape)[1:]))

            return hook

        for n, m in module.named_modules():
            hooks.append(m.register_forward_hook(record(n)))
        try:
            with torch.inference_mode():
                module(torch.zeros(1, 3, spec.resolution, spec.resolution))
        finally:
            for h in hooks:
                h.remove()
    rows = [("output", type(module).__name__, out_shapes.get("", ""))]
    try:
        pen, _ = resolve_layer(module, spec, "penultimate")
        rows.append(("penultimate", f"input of {pen}", ""))
    except ValidationError:
        pass
    rows += [(n, type(m).__name__, out_shapes.get(n, "")) for n, m in module.named_modules() if n]
    return rows


def check_layers(spec: ModelSpec, layers: list[str], where: str) -> None:
    """Plan-time check of ``layers`` against the architecture of ``spec`` (built on
    torch's "meta" device from its random-init twin: no weights read, no memory
    used): an unknown name is a ValidationError prefixed with ``where`` (the config
    entry), before any task runs. Models without a random-init twin (published
    checkpoints, gLocal, text) and architectures that cannot be built here are
    checked when their features are extracted."""
    if all(layer == "output" for layer in layers):
        return
    module = _meta_module(spec.name)
    if module is None:
        return
    for layer in layers:
        try:
            resolve_layer(module, spec, layer)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}") from None


@functools.lru_cache(maxsize=32)
def _meta_module(name: str) -> nn.Module | None:
    from repalign.models.loading import load_model, random_twin_name

    try:
        twin = random_twin_name(name)
    except ValidationError:
        return None
    try:
        with torch.device("meta"):
            if twin.startswith("random:open_clip/"):  # open_clip moves the model to a device itself
                import logging

                import open_clip

                root = logging.getLogger()
                level, root.level = root.level, logging.ERROR  # "initialized randomly" is the point here
                try:
                    return open_clip.create_model(twin.split("/", 1)[1], pretrained=None, device="meta").visual
                finally:
                    root.setLevel(level)
            return load_model(twin).module
    except Exception:  # a library that cannot build on "meta": the extraction checks the names
        return None
