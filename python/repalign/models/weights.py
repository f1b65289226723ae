"""Published weight files of the zoo's checkpoint models: where each comes from and
how its bytes are checked, kept in the data registry's cache.

A ``WeightFile`` names one file at its publisher's address. Its check is the
strongest the publisher gives: a full sha256; the sha256 prefix that torch-hub
file names carry (CORnet: ``cornet_s-1d3f7974.pth``); or the git blob id of a
file in a GitHub repository at a pinned commit (gLocal transforms). Files with
none of these are fetched unchecked and say so (``check == "none"``).

Where the bytes live: ``$REPALIGN_CACHE_DIR`` (else ``pooch.os_cache('repalign')``,
the data registry's cache) under ``weights/<key>/<filename>``. Nothing is
downloaded while loading a model: ``repalign models fetch NAME`` (or
``fetch_weights``) downloads and checks; a missing file is an error of one line
naming the model and the address its weights come from.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from repalign.errors import DatasetNotFoundError, HashMismatchError

__all__ = ["WeightFile", "WEIGHTS", "weights_dir", "weight_path", "fetch_weight", "check_file"]


@dataclass(frozen=True)
class WeightFile:
    """One published file. key: zoo-wide id (folder in the cache); url: the
    publisher's address; filename: name in the cache; sha256 / sha256_prefix /
    git_blob: the publisher's check (at most one needed); size: bytes, if known;
    note: where the address and the check come from."""

    key: str
    url: str
    filename: str
    sha256: str | None = None
    sha256_prefix: str | None = None
    git_blob: str | None = None
    size: int | None = None
    note: str = ""

    @property
    def check(self) -> str:
        return (
            "sha256"
            if self.sha256
            else "sha256-prefix"
            if self.sha256_prefix
            else "git-blob"
            if self.git_blob
            else "none"
        )


_FB = "https://dl.fbaipublicfiles.com"
_GLOCAL_COMMIT = "635fdaa5b36e810f626125104fb9eb11ea89a75d"  # LukasMut/gLocal main, 2024-11-22
_GLOCAL = f"https://raw.githubusercontent.com/LukasMut/gLocal/{_GLOCAL_COMMIT}/transforms"


def _w(key, url, filename=None, **kw) -> WeightFile:
    return WeightFile(key=key, url=url, filename=filename or url.rsplit("/", 1)[-1], **kw)


WEIGHTS: dict[str, WeightFile] = {
    w.key: w
    for w in [
        # SLIP (Mu et al. 2022, facebookresearch/SLIP README "Results and Pre-trained Models"):
        # 25-epoch YFCC15M checkpoints, the one epoch count all three objectives share.
        *[
            _w(
                f"slip-{obj}-{size}",
                f"{_FB}/slip/{obj}_{size}_25ep.pt",
                note="facebookresearch/SLIP README; no checksum published",
            )
            for obj in ("slip", "clip", "simclr")
            for size in ("small", "base", "large")
        ],
        # VISSL model zoo (the addresses thingsvision's SSLExtractor uses)
        _w(
            "vissl-simclr-rn50",
            f"{_FB}/vissl/model_zoo/simclr_rn50_800ep_simclr_8node_resnet_16_07_20.7e8feed1/"
            "model_final_checkpoint_phase799.torch",
            "simclr_rn50_800ep.torch",
            note="VISSL MODEL_ZOO.md; no checksum published",
        ),
        _w(
            "vissl-mocov2-rn50",
            f"{_FB}/vissl/model_zoo/moco_v2_1node_lr.03_step_b32_zero_init/model_final_checkpoint_phase199.torch",
            "mocov2_rn50_200ep.torch",
            note="VISSL MODEL_ZOO.md; no checksum published",
        ),
        _w(
            "vissl-jigsaw-rn50",
            f"{_FB}/vissl/model_zoo/jigsaw_rn50_in1k_ep105_perm2k_jigsaw_8gpu_resnet_17_07_20.db174a43/"
            "model_final_checkpoint_phase104.torch",
            "jigsaw_rn50_in1k_perm2k.torch",
            note="VISSL MODEL_ZOO.md; no checksum published",
        ),
        _w(
            "vissl-rotnet-rn50",
            f"{_FB}/vissl/model_zoo/rotnet_rn50_in1k_ep105_rotnet_8gpu_resnet_17_07_20.46bada9f/"
            "model_final_checkpoint_phase125.torch",
            "rotnet_rn50_in1k.torch",
            note="VISSL MODEL_ZOO.md; no checksum published",
        ),
        _w(
            "vissl-swav-rn50",
            f"{_FB}/vissl/model_zoo/swav_in1k_rn50_800ep_swav_8node_resnet_27_07_20.a0a6b676/"
            "model_final_checkpoint_phase799.torch",
            "swav_rn50_800ep.torch",
            note="VISSL MODEL_ZOO.md; no checksum published",
        ),
        _w(
            "vissl-pirl-rn50",
            f"{_FB}/vissl/model_zoo/pirl_jigsaw_4node_pirl_jigsaw_4node_resnet_22_07_20.34377f59/"
            "model_final_checkpoint_phase799.torch",
            "pirl_rn50_800ep.torch",
            note="VISSL MODEL_ZOO.md; no checksum published",
        ),
        _w(
            "barlowtwins-rn50",
            f"{_FB}/barlowtwins/ljng/resnet50.pth",
            "barlowtwins_resnet50.pth",
            note="facebookresearch/barlowtwins README; no checksum published",
        ),
        _w(
            "vicreg-rn50",
            f"{_FB}/vicreg/resnet50.pth",
            "vicreg_resnet50.pth",
            note="facebookresearch/vicreg README; no checksum published",
        ),
        _w(
            "dino-rn50",
            f"{_FB}/dino/dino_resnet50_pretrain/dino_resnet50_pretrain.pth",
            note="facebookresearch/dino README / hubconf.py; no checksum published",
        ),
        # CORnet (Kubilius et al. 2019, dicarlolab/CORnet): the file names carry the sha256 prefix
        _w(
            "cornet-z",
            "https://s3.amazonaws.com/cornet-models/cornet_z-5c427c9c.pth",
            sha256_prefix="5c427c9c",
            note="dicarlolab/CORnet cornet_z.py HASH",
        ),
        _w(
            "cornet-r",
            "https://s3.amazonaws.com/cornet-models/cornet_r-5930a990.pth",
            sha256_prefix="5930a990",
            note="dicarlolab/CORnet cornet_r.py HASH",
        ),
        _w(
            "cornet-s",
            "https://s3.amazonaws.com/cornet-models/cornet_s-1d3f7974.pth",
            sha256_prefix="1d3f7974",
            note="dicarlolab/CORnet cornet_s.py HASH",
        ),
        # ecoset (Mehrer et al. 2021; the OSF files thingsvision loads)
        _w(
            "ecoset-resnet50",
            "https://osf.io/gd9kn/download",
            "Resnet50_ecoset.pth",
            note="OSF gd9kn; no checksum published",
        ),
        _w(
            "ecoset-inception_v3",
            "https://osf.io/zn24d/download",
            "Inception_ecoset.pth",
            note="OSF zn24d; no checksum published",
        ),
        # gLocal transforms (Muttenthaler et al. 2023, LukasMut/gLocal transforms/<model>/<module>/transform.npz).
        # sha256 computed from the repository's blobs at the pinned commit; resnet50's blob (≥ 4 MiB) was not
        # readable here, so it is pinned by its git blob id.
        _w(
            "glocal-clip_RN50",
            f"{_GLOCAL}/clip_RN50/visual/transform.npz",
            "transform.npz",
            size=3930470,
            sha256="81fc831f60c43ded3508f36803e48d105560fb4992bbbe7b1db1745c83af1c4b",
            note="LukasMut/gLocal@635fdaa",
        ),
        _w(
            "glocal-clip_ViT-L-14",
            f"{_GLOCAL}/clip_ViT-L/14/visual/transform.npz",
            "transform.npz",
            size=2195315,
            sha256="4d9f969b1cac5334e87c93a6743a50e0f7d38cb41d7e8fb701584bc29d2fe25a",
            note="LukasMut/gLocal@635fdaa",
        ),
        _w(
            "glocal-dinov2-vit-base-p14",
            f"{_GLOCAL}/dinov2-vit-base-p14/norm/transform.npz",
            "transform.npz",
            size=2204195,
            sha256="2bcb2d77346fbaec29326edc54bc03060145ecbb1fb5d80c3c7733241a71dd69",
            note="LukasMut/gLocal@635fdaa (same blob as dino-vit-base-p16/norm: upstream stores one file for both)",
        ),
        _w(
            "glocal-dinov2-vit-large-p14",
            f"{_GLOCAL}/dinov2-vit-large-p14/norm/transform.npz",
            "transform.npz",
            size=3907196,
            sha256="b3da393252d7d8407a745762b06863333793e002970d2a143f121f75e626d694",
            note="LukasMut/gLocal@635fdaa",
        ),
        _w(
            "glocal-resnet18",
            f"{_GLOCAL}/resnet18/avgpool/transform.npz",
            "transform.npz",
            size=977954,
            sha256="7a2bb20c8662eff5b3c0e27e5614b56be782479ec99d26d1ffd01a01777d7d3c",
            note="LukasMut/gLocal@635fdaa",
        ),
        _w(
            "glocal-resnet50",
            f"{_GLOCAL}/resnet50/avgpool/transform.npz",
            "transform.npz",
            git_blob="44b7deffc1c4c36abe904af8251f6976cb44aff0",
            note="LukasMut/gLocal@635fdaa (git blob id)",
        ),
        # Not in LukasMut/gLocal at any commit: the naturalcogsci OSF data (data/gLocal/<name>.npz) only.
        _w(
            "glocal-OpenCLIP_ViT-B-32_laion400m_e32",
            "https://osf.io/h3t52",
            "OpenCLIP_ViT-B-32_laion400m_e32.npz",
            note="candemircan/naturalcogsci OSF data, data/gLocal/OpenCLIP_ViT-B-32_laion400m_e32.npz (no direct file "
            "address): place the file in the cache by hand",
        ),
    ]
}


def weights_dir() -> Path:
    """Root of the weight cache: ``$REPALIGN_CACHE_DIR/weights`` or the registry's pooch cache."""
    env = os.environ.get("REPALIGN_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "weights"
    import pooch

    return Path(pooch.os_cache("repalign")) / "weights"


def weight_path(key: str) -> Path:
    """Where weight file ``key`` is (or would be) in the cache."""
    w = WEIGHTS[key]
    return weights_dir() / w.key / w.filename


def _git_blob(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_file(w: WeightFile, path: Path) -> None:
    """Raise HashMismatchError unless ``path`` passes ``w``'s check (a no-op when none is published)."""
    if w.sha256 or w.sha256_prefix:
        got = _sha256(path)
        want = w.sha256 or w.sha256_prefix
        if not got.startswith(want):
            raise HashMismatchError(
                f"weights {w.key}: sha256 of {path} is {got}, the publisher's is {want}…; "
                f"the file was not used (delete it and run `repalign models fetch`)"
            )
    elif w.git_blob:
        got = _git_blob(path)
        if got != w.git_blob:
            raise HashMismatchError(
                f"weights {w.key}: git blob id of {path} is {got}, expected {w.git_blob}; the file was not used"
            )


def fetch_weight(key: str, model: str | None = None, download: bool = False) -> Path:
    """The checked local path of weight file ``key``. Missing and ``download`` false (or
    ``REPALIGN_OFFLINE=1``): a DatasetNotFoundError of one line naming ``model``
    and the file's address. ``download``: fetch it with pooch, check, keep."""
    w = WEIGHTS[key]
    target = weight_path(key)
    who = f"model {model!r}" if model else f"weights {key!r}"
    if target.is_file():
        check_file(w, target)
        return target
    offline = os.environ.get("REPALIGN_OFFLINE", "0") == "1"
    if not download or offline:
        how = ("unset REPALIGN_OFFLINE and run" if offline else "run") + f" `repalign models fetch {model or key}`"
        raise DatasetNotFoundError(
            f"weights of {who} are not cached ({target}); they come from {w.url}: {how} on a machine with "
            f"network access, or put the file there"
        )
    if w.url.startswith("https://osf.io/h3t52"):
        raise DatasetNotFoundError(f"weights of {who}: {w.note}; expected at {target}")
    import pooch

    target.parent.mkdir(parents=True, exist_ok=True)
    known = f"sha256:{w.sha256}" if w.sha256 else None
    try:
        got = Path(pooch.retrieve(w.url, known_hash=known, fname=w.filename, path=target.parent, progressbar=False))
    except ValueError as exc:  # pooch's hash mismatch
        raise HashMismatchError(f"weights of {who} from {w.url}: {exc}") from exc
    except Exception as exc:  # network failures of every kind
        raise DatasetNotFoundError(f"weights of {who}: could not download {w.url}: {exc}") from exc
    try:
        check_file(w, got)
    except HashMismatchError:
        got.unlink(missing_ok=True)  # never keep a file that failed its check
        raise
    return got
