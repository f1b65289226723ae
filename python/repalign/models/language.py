"""Language models of Demircan et al. 2024 (candemircan/naturalcogsci,
``naturalcogsci/feature_extractors.py``): each THINGS image is represented by its
concept's text. BERT and RoBERTa embed the sentence "A photo of a <concept>" and take
the first token's last hidden state (``last_hidden_state[:, 0, :]``, the seed's
pooling); DistilBERT is pooled the same way (the seed maps it to
distilbert-base-uncased). The tokeniser pads and truncates the batch.

``HFSentenceEncoder`` wraps a transformers ``AutoModel`` and its tokenizer:
``encode(sentences) -> (n, hidden)`` float32 numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

PROMPT = "A photo of a {}"  # the seed's sentence around each concept word


def prompt(words: Sequence[str]) -> list[str]:
    """The seed's sentences for concept words (digits and underscores already removed)."""
    return [PROMPT.format(w) for w in words]


class HFSentenceEncoder(nn.Module):
    """First-token pooling of a transformers encoder. ``model``: AutoModel; ``tokenizer``: its tokenizer."""

    def __init__(self, model: nn.Module, tokenizer, pooling: str = "first"):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling

    @torch.inference_mode()
    def encode(self, sentences: Sequence[str], batch_size: int = 64, **_) -> np.ndarray:
        dev = next(self.model.parameters()).device
        out = []
        for i in range(0, len(sentences), batch_size):
            tok = self.tokenizer(
                list(sentences[i : i + batch_size]), padding=True, truncation=True, return_tensors="pt"
            )
            h = self.model(**{k: v.to(dev) for k, v in tok.items()}).last_hidden_state
            out.append(h[:, 0, :].float().cpu().numpy())
        return np.concatenate(out)


def load_hf(source: str) -> HFSentenceEncoder:
    """AutoModel + AutoTokenizer from a hub id (cache only unless HF_HUB_OFFLINE=0) or a local folder."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(source)
    model = AutoModel.from_pretrained(source)
    model.eval()
    return HFSentenceEncoder(model, tok)
