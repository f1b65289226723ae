#!/usr/bin/env python3
"""The locked Python environment: make it (``make lock``) and pick what to install.

    python scripts/lock.py compile [--upgrade]     # refresh requirements/lock.txt (uv, PyPI)
    python scripts/lock.py requirements --torch cuda|cpu > reqs.txt

``requirements/lock.txt`` pins every direct and transitive package with its sha256
hashes, for every platform (``uv pip compile --universal``; markers select what a
machine installs). ``--torch cuda`` is the whole lock: PyPI's torch build, which
brings the CUDA libraries on Linux and also runs on a CPU. ``--torch cpu`` leaves
out torch, torchvision and the CUDA libraries: the Makefile then installs
PyTorch's CPU build of the same versions from PyTorch's CPU index (pinned by
version: that index is not PyPI, so its wheels are not in the lock).

Standard library only: it runs before the environment exists.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
#: the packages of a CUDA build of torch that a CPU build does without
TORCH_FAMILY = re.compile(r"^(torch|torchvision|triton|nvidia-[a-z0-9-]+|cuda-bindings|cuda-pathfinder|cuda-toolkit)$")
UV = "uv==0.13.9"


def _name(line: str) -> str | None:
    m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==", line)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else None


def requirements(torch: str) -> str:
    """The lock's text for one torch build: whole for ``cuda``; without the torch
    family's entries (each an unindented ``name==`` line and its indented lines) for ``cpu``."""
    if torch == "cuda":
        return LOCK.read_text()
    out, skipping = [], False
    for line in LOCK.read_text().splitlines():
        if line and not line[0].isspace():
            name = _name(line)
            skipping = bool(name and TORCH_FAMILY.match(name))
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


def compile_lock(upgrade: bool) -> None:
    """Resolve pyproject.toml (extras test and r) + requirements/build.in under
    requirements/pins.txt into requirements/lock.txt; without ``--upgrade`` the versions
    already in the lock are kept where they still fit."""
    uv = shutil.which("uv")
    cmd = [uv] if uv else [sys.executable, "-m", "uv"]
    if not uv:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", UV], check=True)
    cmd += [
        "pip",
        "compile",
        "pyproject.toml",
        "requirements/build.in",
        "--extra",
        "test",
        "--extra",
        "r",
        "--universal",
        "--python-version",
        "3.11",
        "--generate-hashes",
        "-c",
        "requirements/pins.txt",
        "--custom-compile-command",
        "make lock",
        "-o",
        "requirements/lock.txt",
    ]
    if upgrade:
        cmd.append("--upgrade")
    subprocess.run(cmd, check=True, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compile", help="refresh requirements/lock.txt")
    c.add_argument("--upgrade", action="store_true", help="newest versions the ranges allow")
    r = sub.add_parser("requirements", help="print the requirements to install for one torch build")
    r.add_argument("--torch", choices=("cuda", "cpu"), required=True)
    args = parser.parse_args()
    if args.cmd == "compile":
        compile_lock(args.upgrade)
    else:
        sys.stdout.write(requirements(args.torch))


if __name__ == "__main__":
    main()
