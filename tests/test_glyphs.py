"""Tests of the rendered-glyph source (utils.glyphs) and the few-label protocol helpers (utils.data)."""

import numpy as np
import pytest

from utils.data import digits_halves, labeled_subset
from utils.glyphs import DIGITS, HELDOUT_FONTS, INK_RANGE, LETTERS, TRAIN_FONTS, font_names, render_glyphs


def test_same_seed_same_images_and_another_seed_others():
    X1, y1 = render_glyphs(DIGITS, 30, seed=3)
    X2, y2 = render_glyphs(DIGITS, 30, seed=3)
    X3, _ = render_glyphs(DIGITS, 30, seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_values_are_optdigits_counts_and_classes_are_balanced():
    X, y = render_glyphs(LETTERS, 20, seed=0)
    assert X.shape == (20 * 52, 64) and X.dtype == np.float64
    assert X.min() == 0 and X.max() == 16 and np.all(X == np.round(X))
    np.testing.assert_array_equal(np.bincount(y), np.full(52, 20))


def test_train_and_heldout_fonts_are_disjoint_and_exist():
    assert not set(TRAIN_FONTS) & set(HELDOUT_FONTS)
    assert font_names("all") == TRAIN_FONTS + HELDOUT_FONTS
    for split in ("train", "heldout"):
        X, _ = render_glyphs(DIGITS + LETTERS, 1, seed=0, fonts=split)  # every font has every glyph
        assert X.sum(axis=1).min() > 0
    with pytest.raises(ValueError, match="fonts must be one of"):
        font_names("test")


def test_ink_matches_the_real_digits():
    X_real = digits_halves(0)[0]
    real = X_real.sum(axis=1) / 1024
    lo, hi = np.percentile(real, [5, 95])
    assert abs(lo - INK_RANGE[0]) < 0.01 and abs(hi - INK_RANGE[1]) < 0.01, (lo, hi)
    X, _ = render_glyphs(DIGITS, 200, seed=0)
    assert abs((X.sum(axis=1) / 1024).mean() - real.mean()) < 0.02


def test_renders_thousands_of_images_in_one_call_reproducibly():
    # Speed is measured by tools/bench.py, not here: a timed assertion fails on a loaded machine.
    X, y = render_glyphs(DIGITS, 1000, seed=1)
    assert X.shape == (10_000, 64) and np.array_equal(np.bincount(y), np.full(10, 1000))
    X_again, _ = render_glyphs(DIGITS, 1000, seed=1)
    assert np.array_equal(X, X_again)


def test_digits_halves_is_a_stratified_half_and_labeled_subset_is_per_class():
    X_pool, y_pool, X_test, y_test = digits_halves(0)
    assert len(y_pool) + len(y_test) == 1797
    assert np.all(np.abs(np.bincount(y_pool) - np.bincount(y_test)) <= 1)
    first = labeled_subset(y_pool, 5, seed=1)
    np.testing.assert_array_equal(np.bincount(y_pool[first]), np.full(10, 5))
    second = labeled_subset(y_pool, 5, seed=1, exclude=first)
    assert not np.intersect1d(first, second).size


def test_heldout_fonts_render_other_images():
    a, _ = render_glyphs(DIGITS, 10, seed=0, fonts="train")
    b, _ = render_glyphs(DIGITS, 10, seed=0, fonts="heldout")
    assert a.shape == b.shape and not np.array_equal(a, b)


def test_elastic_zero_is_the_undistorted_glyph():
    clean, _ = render_glyphs(DIGITS, 1, seed=0, elastic=0.0)
    warped, _ = render_glyphs(DIGITS, 1, seed=0, elastic=3.0)  # chapter 06's source (utils.transfer.SOURCE_ELASTIC)
    assert not np.array_equal(clean, warped)


def test_repeated_characters_are_refused():
    with pytest.raises(ValueError, match="distinct"):
        render_glyphs("00", 1)
