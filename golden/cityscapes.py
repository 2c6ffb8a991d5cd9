"""Cityscapes frames as network input: find, crop, normalize.

Frames are read from ``$CITYSCAPES_DATASET`` (official layout
``leftImg8bit/<split>/<city>/<name>_leftImg8bit.png``; default ``../shared/cityscapes`` relative to
the repository root) and never copied into the repository.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Crop", "dataset_root", "list_frames", "find_frame", "load_frame", "crop_input",
           "IMAGENET_MEAN", "IMAGENET_STD"]

REPO_ROOT = Path(__file__).resolve().parent.parent
# FC-HarDNet trains on images scaled to [0, 1] and normalized with ImageNet's mean and std.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


class CityscapesError(RuntimeError):
    pass


@dataclass(frozen=True)
class Crop:
    """A window of a frame: ``frame`` is a file name stem or path, (top, left) its corner, in pixels."""

    frame: str = "frankfurt_000000_002196"
    top: int = 0
    left: int = 0
    height: int = 256
    width: int = 512

    @property
    def key(self) -> str:
        return f"{Path(self.frame).name.replace('_leftImg8bit.png', '')}@{self.top},{self.left}+{self.height}x{self.width}"


def dataset_root() -> Path:
    root = Path(os.environ.get("CITYSCAPES_DATASET", REPO_ROOT.parent / "shared" / "cityscapes"))
    if not (root / "leftImg8bit").is_dir():
        raise CityscapesError(
            f"Cityscapes folder {root} has no leftImg8bit/ (set CITYSCAPES_DATASET to the dataset root)")
    return root


def list_frames() -> list[Path]:
    """Every frame under leftImg8bit/ (<split>/<city>/, or directly in <split>/), sorted by path."""
    frames = sorted((dataset_root() / "leftImg8bit").rglob("*_leftImg8bit.png"))
    if not frames:
        raise CityscapesError(f"no *_leftImg8bit.png frames under {dataset_root() / 'leftImg8bit'}")
    return frames


def find_frame(frame: str) -> Path:
    """A frame by path, or by name (with or without the _leftImg8bit.png suffix) in the dataset."""
    p = Path(frame)
    if p.suffix == ".png":
        if not p.is_file():
            raise CityscapesError(f"frame file {p} does not exist")
        return p
    stem = p.name.replace("_leftImg8bit", "")
    for f in list_frames():
        if f.name == f"{stem}_leftImg8bit.png":
            return f
    names = ", ".join(f.name.replace("_leftImg8bit.png", "") for f in list_frames())
    raise CityscapesError(f"frame {frame!r} not found in {dataset_root()} (have: {names})")


def load_frame(frame: str) -> np.ndarray:
    """The frame as uint8 RGB [H, W, 3] (read-only: decoded once per process, shared by callers)."""
    return _decoded(find_frame(frame))


@functools.lru_cache(maxsize=4)
def _decoded(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except Exception as exc:  # PIL raises several types for a bad file
        raise CityscapesError(f"cannot read frame {path}: {exc}") from exc


def crop_input(crop: Crop) -> np.ndarray:
    """The normalized network input for a crop: float32 [1, 3, height, width]."""
    img = load_frame(crop.frame)
    h, w = img.shape[:2]
    if crop.height <= 0 or crop.width <= 0:
        raise CityscapesError(f"crop size must be positive, got {crop.height}x{crop.width}")
    if crop.top < 0 or crop.left < 0 or crop.top + crop.height > h or crop.left + crop.width > w:
        raise CityscapesError(
            f"crop {crop.height}x{crop.width} at ({crop.top},{crop.left}) lies outside frame {crop.frame} "
            f"of {h}x{w}")
    window = img[crop.top: crop.top + crop.height, crop.left: crop.left + crop.width]
    x = (window.astype(np.float32) / np.float32(255.0) - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32))
