"""The representations stage: one ``Representation`` reference per named
representation of a config (zoo features, SPoSE, MiniLM, random, concept means, the
user's own files), owning its identity (a content key, independent of the output
directory), its dependency (the key of the task that produces it) and its loading
(``.load()`` → ``Embedding``). Later stages (metrics, learners, embeddings, report)
read representations only through this package; a caller outside the stages
resolves a config's with ``repalign.pipeline.plan.resolve_study``."""

from repalign.representations.files import SUFFIXES, read_file
from repalign.representations.reference import KINDS, Representation
from repalign.representations.resolve import REPR_KEYS, SOURCES

__all__ = [
    "KINDS",
    "REPR_KEYS",
    "Representation",
    "SOURCES",
    "SUFFIXES",
    "read_file",
]
