"""Rendered characters as a source task for transfer and pretraining (chapters 06 and 07).

The digits data set is small (1,797 images by 13 writers), so a source task needs images from somewhere else.
Here they are *printed*: digits, letters and other characters drawn from the fonts that ship with matplotlib
(DejaVu, STIX, Computer Modern), jittered (rotation, shear, width, an elastic distortion, stroke thickness) and
reduced to 8x8 the way the UCI optdigits images were made: a 32x32 binary bitmap whose 4x4 blocks are counted, so
each pixel is a count 0-16. The real handwritten digits stay the target. Nothing is downloaded.

``render_glyphs`` is deterministic for a seed and renders about 20,000 images a second: each font's glyph is drawn
once (cached) at 64x64, then every image samples it through its own random transform.
"""

from __future__ import annotations

import functools
import string
from pathlib import Path

import numpy as np

DIGITS = string.digits
LETTERS = string.ascii_uppercase + string.ascii_lowercase

# matplotlib's bundled text fonts (file stems in mpl-data/fonts/ttf). The held-out fonts never appear in "train":
# a mono, a serif italic, a bold sans and a Computer Modern face, so a model is tested on styles it has not seen.
TRAIN_FONTS = (
    "DejaVuSans",
    "DejaVuSans-Oblique",
    "DejaVuSans-BoldOblique",
    "DejaVuSerif",
    "DejaVuSerif-Bold",
    "DejaVuSerif-BoldItalic",
    "DejaVuSansMono-Bold",
    "DejaVuSansMono-Oblique",
    "STIXGeneral",
    "STIXGeneralBol",
    "STIXGeneralItalic",
    "cmr10",
    "cmb10",
    "cmss10",
    "cmti10",
)
HELDOUT_FONTS = (
    "DejaVuSans-Bold",
    "DejaVuSerif-Italic",
    "DejaVuSansMono",
    "DejaVuSansMono-BoldOblique",
    "STIXGeneralBolIta",
    "cmtt10",
)
FONT_SPLITS = {"train": TRAIN_FONTS, "heldout": HELDOUT_FONTS, "all": TRAIN_FONTS + HELDOUT_FONTS}

BASE = 64  # each glyph is drawn once into a BASE x BASE canvas, its height filling GLYPH_HEIGHT pixels
GLYPH_HEIGHT = 56
FRAME = 32  # the optdigits bitmap: FRAME x FRAME binary pixels, counted in BLOCK x BLOCK blocks
BLOCK = 4
# Ink: the real digits turn on 25-36% of their 32x32 pixels (5th-95th percentile, mean 30.5%; asserted in
# tests/test_glyphs.py). Each rendered image draws its own target in that range: its stroke thickness.
INK_RANGE = (0.25, 0.36)


def font_names(split: str = "train") -> tuple[str, ...]:
    """Return the font file stems of a split: ``"train"``, ``"heldout"`` or ``"all"``."""
    if split not in FONT_SPLITS:
        raise ValueError(f"fonts must be one of {sorted(FONT_SPLITS)} or a sequence of font names, not {split!r}")
    return FONT_SPLITS[split]


def _font_path(name: str) -> Path:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / f"{name}.ttf"
    if not path.exists():
        raise ValueError(f"no font {name!r} in matplotlib's bundled fonts ({path.parent})")
    return path


@functools.cache
def _glyph(font: str, char: str) -> np.ndarray:
    """Draw ``char`` in ``font`` into a BASE x BASE float canvas (0..1), height GLYPH_HEIGHT, centered."""
    from matplotlib.ft2font import FT2Font
    from PIL import Image

    face = FT2Font(str(_font_path(font)))
    if face.get_char_index(ord(char)) == 0:
        raise ValueError(f"font {font!r} has no glyph for {char!r}")
    face.set_size(96, 72)
    face.set_text(char, 0.0)
    face.draw_glyphs_to_bitmap(antialiased=True)
    image = np.asarray(face.get_image(), dtype=np.float64) / 255.0
    rows, cols = np.nonzero(image > 0.2)
    image = image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = image.shape
    new_w = max(2, min(BASE - 4, round(width * GLYPH_HEIGHT / height)))
    resized = Image.fromarray((image * 255).astype(np.uint8)).resize((new_w, GLYPH_HEIGHT), Image.BILINEAR)
    canvas = np.zeros((BASE, BASE))
    top, left = (BASE - GLYPH_HEIGHT) // 2, (BASE - new_w) // 2
    canvas[top : top + GLYPH_HEIGHT, left : left + new_w] = np.asarray(resized) / 255.0
    return _blur(canvas)


def _blur(image: np.ndarray, passes: int = 3) -> np.ndarray:
    """Smooth with a few 3x3 box passes, so that a threshold on it draws thinner or thicker strokes."""
    for _ in range(passes):
        padded = np.pad(image, 1)
        image = sum(padded[i : i + image.shape[0], j : j + image.shape[1]] for i in range(3) for j in range(3)) / 9
    return image


@functools.cache
def _glyph_bank(fonts: tuple[str, ...], chars: str) -> np.ndarray:
    """Return every (font, char) glyph as one array of shape (len(fonts), len(chars), BASE, BASE)."""
    bank = np.stack([np.stack([_glyph(f, c) for c in chars]) for f in fonts])
    return np.rint(255 * bank / bank.max(axis=(2, 3), keepdims=True)).astype(np.uint8)  # bytes: a fast gather


def _interpolation(grid: int) -> np.ndarray:
    """Return the (FRAME, grid) matrix that interpolates a coarse grid's values bilinearly onto FRAME points."""
    t = np.linspace(0, grid - 1, FRAME)
    i0 = np.minimum(np.floor(t).astype(int), grid - 2)
    weights = np.zeros((FRAME, grid), dtype=np.float32)
    weights[np.arange(FRAME), i0] = 1 - (t - i0)
    weights[np.arange(FRAME), i0 + 1] = t - i0
    return weights


def _sample_positions(rng: np.random.Generator, n: int, elastic: float, grid: int = 4):
    """Return where each output pixel reads the base glyph: (rows, cols), float32 arrays (n, FRAME, FRAME).

    An affine map (rotation, shear, width and height scale) of the output frame, after an elastic displacement:
    smooth random offsets on a coarse ``grid`` x ``grid`` lattice, interpolated bilinearly. Both are linear in the
    offsets, so the offsets are mapped on the coarse lattice and interpolated once (fast).
    """
    angle = np.deg2rad(rng.uniform(-12, 12, n))
    shear = rng.uniform(-0.25, 0.25, n)
    width = rng.uniform(0.75, 1.05, n)
    height = rng.uniform(0.92, 1.0, n)
    cos, sin, scale = np.cos(angle), np.sin(angle), GLYPH_HEIGHT / FRAME
    # cols = c0 + a*u + b*v and rows = r0 + d*u + e*v, for output offsets (u, v) from the frame's centre
    a, b = scale * (cos + shear * sin) / width, scale * (sin - shear * cos) / width
    d, e = -scale * sin / height, scale * cos / height
    coeffs = [x.astype(np.float32)[:, None, None] for x in (a, b, d, e)]
    offsets = np.arange(FRAME, dtype=np.float32) - (FRAME - 1) / 2
    u, v = offsets[None, None, :], offsets[None, :, None]
    centre = np.float32((BASE - 1) / 2)
    cols = centre + coeffs[0] * u + coeffs[1] * v
    rows = centre + coeffs[2] * u + coeffs[3] * v
    if elastic:
        du, dv = rng.normal(0.0, elastic, (2, n, grid, grid)).astype(np.float32)
        weights = _interpolation(grid)
        for target, (p, q) in ((cols, coeffs[:2]), (rows, coeffs[2:])):
            target += weights @ (p * du + q * dv) @ weights.T
    return rows, cols


def _nearest(position: np.ndarray) -> np.ndarray:
    """Round sampling positions to the nearest base pixel, clamped to the canvas (int32, in place where possible)."""
    position += 0.5
    index = position.astype(np.int32)  # truncation = floor here: negative positions are clamped to 0 anyway
    return np.clip(index, 0, BASE - 1, out=index)


def _threshold_to_ink(field: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """Binarize each uint8 image at the lowest level that turns on at most ``ink`` of its pixels."""
    n = len(field)
    flat = field.reshape(n, -1)
    histogram = np.bincount((np.arange(n)[:, None] * 256 + flat).ravel(), minlength=n * 256).reshape(n, 256)
    above = flat.shape[1] - np.cumsum(histogram, axis=1)  # above[:, t]: pixels brighter than level t
    level = np.argmax(above <= (ink * flat.shape[1])[:, None], axis=1)
    return field > level[:, None, None].astype(np.uint8)


def render_glyphs(
    chars: str,
    n_per_class: int,
    *,
    seed: int = 0,
    fonts: str | tuple[str, ...] = "train",
    elastic: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Render ``n_per_class`` jittered images of each character, reduced to optdigits-style 8x8 counts.

    Parameters
    ----------
    chars : the classes, one character each (e.g. ``DIGITS`` or ``LETTERS``); label ``k`` is ``chars[k]``.
    n_per_class : images per character; fonts are drawn at random from ``fonts``.
    seed : the same seed gives the same images.
    fonts : ``"train"``, ``"heldout"``, ``"all"`` or a tuple of font names from ``font_names("all")``.
    elastic : strength of the elastic distortion in output pixels (0 turns it off: clean printed shapes).

    Returns
    -------
    X : float64 array (n_per_class * len(chars), 64), each pixel a count 0..16, rows in random order.
    y : int64 array of labels (index into ``chars``).
    """
    fonts = font_names(fonts) if isinstance(fonts, str) else tuple(fonts)
    if not chars or len(set(chars)) != len(chars):
        raise ValueError(f"chars must be distinct characters, got {chars!r}")
    bank = _glyph_bank(fonts, chars)
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(chars)), n_per_class)
    rng.shuffle(y)
    font = rng.integers(0, len(fonts), len(y))
    rows, cols = _sample_positions(rng, len(y), elastic)
    index = _nearest(rows) * BASE + _nearest(cols)
    index += ((font * len(chars) + y) * BASE * BASE).astype(np.int32)[:, None, None]
    field = bank.reshape(-1)[index]  # the nearest pixel of each image's own glyph
    bitmap = _threshold_to_ink(field, rng.uniform(*INK_RANGE, len(y)))
    counts = bitmap.reshape(len(y), FRAME // BLOCK, BLOCK, FRAME // BLOCK, BLOCK).sum(axis=(2, 4))
    return counts.reshape(len(y), -1).astype(np.float64), y.astype(np.int64)
