"""The data registry: every file repalign reads, with its public URL and sha256.

Files are named by dataset (``things-spose``) and by their path inside the
upstream GitHub repository. Where the bytes come from:

* ``REPALIGN_DATA_DIR`` set: a local mirror laid out as
  ``<owner>+<repo>/<path as upstream>`` (the layout of ``shared/data``). Files are
  hash-checked and never downloaded into the mirror; a missing file is an error
  that says how to fetch it.
* otherwise: the user cache (``pooch.os_cache('repalign')`` or
  ``REPALIGN_CACHE_DIR``); missing files are downloaded from the raw file of the
  upstream repository at the pinned commit, with the same hash check.
  ``REPALIGN_OFFLINE=1`` forbids downloads.

A file whose hash differs from the registry is never returned.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pooch

from repalign.errors import DatasetNotFoundError, HashMismatchError, UnknownDatasetError

__all__ = [
    "RegisteredFile",
    "registry",
    "dataset_names",
    "files",
    "fetch",
    "fetch_dataset",
    "verify",
    "data_dir",
    "local_path",
]

_REGISTRY_FILE = "registry.tsv"


@dataclass(frozen=True)
class RegisteredFile:
    """One upstream file: where it lives and what its bytes must hash to."""

    dataset: str
    repo: str  # "owner/name"
    commit: str
    path: str  # path inside the upstream repository
    size: int  # bytes
    sha256: str
    licence: str

    @property
    def key(self) -> str:
        """Relative path in a local mirror: ``<owner>+<repo>/<path>``."""
        return f"{self.repo.replace('/', '+')}/{self.path}"

    @property
    def url(self) -> str:
        """Public URL: the raw file of the repository at the pinned commit."""
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.path}"


@lru_cache(maxsize=1)
def registry() -> tuple[RegisteredFile, ...]:
    """All registered files, in registry order."""
    text = resources.files("repalign.datasets").joinpath(_REGISTRY_FILE).read_text()
    out = []
    lines = text.splitlines()
    for line in lines[1:]:
        if not line.strip():
            continue
        dataset, repo, commit, path, size, sha, licence = line.split("\t")
        out.append(RegisteredFile(dataset, repo, commit, path, int(size), sha, licence))
    return tuple(out)


def dataset_names() -> list[str]:
    """Names of the registered datasets, sorted."""
    return sorted({f.dataset for f in registry()})


def _check_dataset(name: str) -> None:
    if name not in dataset_names():
        raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(dataset_names())}")


def files(dataset: str) -> list[RegisteredFile]:
    """The registered files of one dataset."""
    _check_dataset(dataset)
    return [f for f in registry() if f.dataset == dataset]


def _lookup(dataset: str, path: str) -> RegisteredFile:
    _check_dataset(dataset)
    for f in registry():
        if f.dataset == dataset and f.path == path:
            return f
    raise UnknownDatasetError(f"dataset {dataset!r} has no registered file {path!r}")


def data_dir() -> Path | None:
    """The local mirror named by ``REPALIGN_DATA_DIR``, or None."""
    value = os.environ.get("REPALIGN_DATA_DIR")
    return Path(value).expanduser().resolve() if value else None


def _cache_dir() -> Path:
    value = os.environ.get("REPALIGN_CACHE_DIR")
    return Path(value).expanduser() if value else Path(pooch.os_cache("repalign"))


def local_path(f: RegisteredFile) -> Path:
    """Where the file is (or would be) on this machine."""
    root = data_dir()
    return (root if root is not None else _cache_dir()) / f.key


# Hashing 1,000 small files on every load would dominate start-up: remember files
# already verified in this process, keyed by path, size and mtime.
_verified: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        _verified[key] = pooch.file_hash(str(path), alg="sha256")
    return _verified[key]


def _check_hash(f: RegisteredFile, path: Path) -> Path:
    actual = _sha256(path)
    if actual != f.sha256:
        raise HashMismatchError(
            f"sha256 mismatch for {f.dataset}:{f.path} at {path}: expected {f.sha256}, "
            f"got {actual}. The file was not used; replace it with the upstream file "
            f"({f.url})."
        )
    return path


def _fetch_hint(f: RegisteredFile) -> str:
    return (
        f"run `repalign data fetch {f.dataset}` (downloads {f.url} into the cache), "
        f"or point REPALIGN_DATA_DIR at a mirror laid out as <owner>+<repo>/<path>"
    )


def fetch(dataset: str, path: str, *, download: bool | None = None) -> Path:
    """Return the verified local path of one registered file.

    Parameters
    ----------
    dataset, path:
        Dataset name and the file's path in its upstream repository.
    download:
        Allow a download into the cache when the file is missing. Default: allowed
        unless ``REPALIGN_DATA_DIR`` is set (a mirror is never written to).
        ``REPALIGN_OFFLINE=1`` forbids downloads whatever ``download`` says: a
        missing file is then a ``DatasetNotFoundError`` naming the dataset.
    """
    f = _lookup(dataset, path)
    target = local_path(f)
    if target.is_file():
        return _check_hash(f, target)
    mirror = data_dir()
    offline = os.environ.get("REPALIGN_OFFLINE", "0") == "1"
    if mirror is None and offline:
        raise DatasetNotFoundError(
            f"dataset {f.dataset!r}: file {f.path!r} is not in the cache ({target}) and downloads are "
            f"forbidden (REPALIGN_OFFLINE=1); point REPALIGN_DATA_DIR at a mirror, or unset "
            f"REPALIGN_OFFLINE and run `repalign data fetch {f.dataset}`"
        )
    if download is None:
        download = mirror is None
    if mirror is not None or not download:
        where = f"REPALIGN_DATA_DIR={mirror}" if mirror is not None else "the cache"
        raise DatasetNotFoundError(
            f"dataset {f.dataset!r}: file {f.path!r} not found at {target} ({where}); " + _fetch_hint(f)
        )
    return _download(f, target)


def _download(f: RegisteredFile, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # pooch downloads to a temporary file, checks the hash, then moves it in place,
        # so a failed or corrupted download leaves nothing behind.
        got = pooch.retrieve(
            f.url,
            known_hash=f"sha256:{f.sha256}",
            fname=target.name,
            path=target.parent,
            progressbar=False,
        )
    except ValueError as exc:  # pooch's hash mismatch
        raise HashMismatchError(f"download of {f.dataset}:{f.path} from {f.url}: {exc}") from exc
    except Exception as exc:  # network failures of every kind
        raise DatasetNotFoundError(f"dataset {f.dataset!r}: could not download {f.path!r} from {f.url}: {exc}") from exc
    return Path(got)


def fetch_dataset(dataset: str, *, download: bool | None = None) -> list[Path]:
    """Fetch (or locate and verify) every file of a dataset."""
    return [fetch(f.dataset, f.path, download=download) for f in files(dataset)]


@dataclass(frozen=True)
class FileStatus:
    file: RegisteredFile
    status: str  # "ok", "missing" or "hash mismatch"
    path: Path


def verify(datasets: Iterable[str] | None = None) -> Iterator[FileStatus]:
    """Check every registered file (or those of ``datasets``) without downloading."""
    wanted = set(datasets) if datasets is not None else None
    if wanted is not None:
        for name in wanted:
            _check_dataset(name)
    for f in registry():
        if wanted is not None and f.dataset not in wanted:
            continue
        path = local_path(f)
        if not path.is_file():
            yield FileStatus(f, "missing", path)
        elif _sha256(path) != f.sha256:
            yield FileStatus(f, "hash mismatch", path)
        else:
            yield FileStatus(f, "ok", path)
