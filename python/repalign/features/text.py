"""Text features of words (e.g. THINGS concept names): MiniLM sentence
embeddings (packaged, offline) or an open_clip text tower."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from repalign.datasets import Embedding
from repalign.errors import ValidationError
from repalign.models import get_spec, load_model
from repalign.models.loading import _hub_offline, _offline_error, _quiet_root_logger, _seeded


def text_features(
    words: Sequence[str],
    ids: Sequence[str] | None = None,
    model: str = "minilm",
    batch_size: int = 64,
    device: str | None = None,
) -> Embedding:
    """Embed each word/phrase; returns an Embedding (len(words), d) keyed by
    ``ids`` (default: the words). ``minilm`` gives 384-d sentence embeddings
    (mean-pooled, not normalised); ``text/bert-base-uncased`` (and the other
    ``language`` zoo models) embed "A photo of a <word>" with first-token pooling, as
    Demircan et al. 2024 did; ``open_clip/<arch>:<tag>`` or
    ``random:open_clip/<arch>`` gives that model's text-tower embedding."""
    words = [str(w) for w in words]
    ids = list(words if ids is None else ids)
    if len(ids) != len(words):
        raise ValidationError(f"text_features: {len(words)} words but {len(ids)} ids")
    if not words:
        raise ValidationError("text_features: no words given")
    spec = get_spec(model)
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if spec.backend == "text":
        st, _, spec = load_model(spec.name)
        st.to(dev)
        with torch.inference_mode():
            vals = st.encode(words, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    elif spec.backend == "language":  # naturalcogsci: "A photo of a <word>", first-token pooling
        from repalign.models.language import prompt

        enc, _, spec = load_model(spec.name)
        enc.to(dev)
        vals = enc.encode(prompt(words), batch_size=batch_size)
    elif spec.backend == "open_clip":
        vals = _open_clip_text(spec, words, batch_size, dev)
    else:
        raise ValidationError(f"model {spec.name!r} has no text tower; use 'minilm' or an open_clip model")
    vals = np.asarray(vals, dtype=np.float64)
    if not np.isfinite(vals).all():
        raise ValidationError(f"model {spec.name!r} layer 'text': NaN/inf in text features")
    return Embedding(tuple(ids), vals, f"{spec.name}/text", {"model": spec.name, "layer": "text"})


def _open_clip_text(spec, words, batch_size, dev) -> np.ndarray:
    import open_clip

    _hub_offline()
    with _seeded(spec.seed), _quiet_root_logger(spec.weights is None):
        try:
            m, _, _ = open_clip.create_model_and_transforms(spec.architecture, pretrained=spec.weights)
        except Exception as exc:
            if spec.weights is None:
                raise
            raise _offline_error(
                spec, f"open_clip.create_model_and_transforms('{spec.architecture}', pretrained='{spec.weights}')", exc
            ) from exc
    m.eval().to(dev)
    tok = open_clip.get_tokenizer(spec.architecture)
    out = []
    with torch.inference_mode():
        for i in range(0, len(words), batch_size):
            out.append(m.encode_text(tok(words[i : i + batch_size]).to(dev)).float().cpu().numpy())
    return np.concatenate(out)
