"""Data: the digits data set (ships with scikit-learn, no download) and small synthetic data."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# Transfer learning (chapter 06) trains on one half of the classes and reuses the network on the other.
TASK_A_CLASSES = (0, 1, 2, 3, 4)
TASK_B_CLASSES = (5, 6, 7, 8, 9)


@dataclass(frozen=True)
class Splits:
    """Train, validation and test arrays; ``X`` as float32, ``y`` as int64 class indices."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return int(self.y_train.max()) + 1

    def sizes(self) -> tuple[int, int, int]:
        """Return the number of examples in train, validation and test."""
        return len(self.y_train), len(self.y_valid), len(self.y_test)


def load_digits_splits(
    seed: int = 42, *, valid_fraction: float = 0.15, test_fraction: float = 0.15, standardize: bool = True
) -> Splits:
    """Return the 8x8 digits (1,797 images, 64 features), shuffled and split, standardized with train statistics.

    Parameters
    ----------
    seed : the shuffle seed; the same seed gives the same split.
    valid_fraction, test_fraction : shares of the data held out for validation and test.
    standardize : center and scale each pixel with the training set's mean and std (constant pixels stay 0).

    Returns
    -------
    Splits
    """
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    X, y = X[order].astype(np.float32), y[order].astype(np.int64)
    n_test, n_valid = round(test_fraction * len(y)), round(valid_fraction * len(y))
    n_train = len(y) - n_test - n_valid
    parts = np.split(np.arange(len(y)), [n_train, n_train + n_valid])
    Xs = [X[p] for p in parts]
    if standardize:
        Xs = standardize_with(Xs[0], *Xs)
    return Splits(Xs[0], y[parts[0]], Xs[1], y[parts[1]], Xs[2], y[parts[2]])


@functools.cache
def digits(seed: int = 42) -> Splits:
    """Return :func:`load_digits_splits` (standardized) computed once per seed: the course's one cached split.

    Its arrays are read-only (every caller shares them): copy before changing one.
    """
    splits = load_digits_splits(seed)
    for array in vars(splits).values():
        array.flags.writeable = False
    return splits


def standardize_with(reference: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """Center and scale each column of ``arrays`` with the mean and std of ``reference``."""
    mean = reference.mean(axis=0)
    std = reference.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # constant pixels (the digits' corners) stay at 0
    return [((a - mean) / std).astype(np.float32) for a in arrays]


def select_classes(splits: Splits, classes: tuple[int, ...]) -> Splits:
    """Keep only ``classes`` and relabel them 0..len(classes)-1, in the order given."""
    lookup = np.full(10, -1)
    lookup[list(classes)] = np.arange(len(classes))

    def keep(X, y):
        mask = np.isin(y, classes)
        return X[mask], lookup[y[mask]].astype(np.int64)

    arrays = []
    for X, y in ((splits.X_train, splits.y_train), (splits.X_valid, splits.y_valid), (splits.X_test, splits.y_test)):
        arrays.extend(keep(X, y))
    return Splits(*arrays)


def transfer_tasks(seed: int = 42) -> tuple[Splits, Splits]:
    """Return task A (digits 0-4) and task B (digits 5-9, relabeled 0-4) from the same standardized split."""
    splits = load_digits_splits(seed)
    return select_classes(splits, TASK_A_CLASSES), select_classes(splits, TASK_B_CLASSES)


@functools.cache
def _digits_halves(seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    pool = np.concatenate([rng.permutation(np.flatnonzero(y == k))[: np.sum(y == k) // 2] for k in range(10)])
    pool = np.sort(pool)
    test = np.setdiff1d(np.arange(len(y)), pool)
    arrays = (X[pool], y[pool].astype(np.int64), X[test], y[test].astype(np.int64))
    for a in arrays:
        a.flags.writeable = False  # cached: shared by every caller
    return arrays


def digits_halves(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split the digits 50/50, stratified: ``(X_pool, y_pool, X_test, y_test)``, raw pixel counts 0..16 (float64).

    The few-label protocol of chapters 06 and 07: the test half only ever reports accuracy; labels, validation
    and the unlabeled images all come from the pool half. Arrays are read-only (cached): copy before changing.
    """
    return _digits_halves(seed)


def labeled_subset(y: np.ndarray, per_class: int, seed: int = 0, *, exclude: np.ndarray | None = None) -> np.ndarray:
    """Return sorted indices of ``per_class`` examples of each class of ``y``, drawn with ``default_rng(seed)``.

    ``exclude``: indices that must not be drawn (e.g. a validation set taken first).
    """
    rng = np.random.default_rng(seed)
    allowed = np.ones(len(y), dtype=bool)
    if exclude is not None:
        allowed[exclude] = False
    picks = []
    for k in np.unique(y):
        candidates = np.flatnonzero((y == k) & allowed)
        if len(candidates) < per_class:
            raise ValueError(f"class {k} has only {len(candidates)} examples left, fewer than per_class={per_class}")
        picks.append(rng.choice(candidates, per_class, replace=False))
    return np.sort(np.concatenate(picks))


def make_gaussian_inputs(n: int = 256, n_features: int = 100, seed: int = 0) -> np.ndarray:
    """Return standardized inputs: ``n`` rows of i.i.d. N(0, 1) features, float32."""
    return np.random.default_rng(seed).standard_normal((n, n_features)).astype(np.float32)


def make_spirals(n_per_class: int = 200, n_classes: int = 3, noise: float = 0.2, seed: int = 0):
    """Return ``(X, y)``: interleaved 2-D spirals, a small task that needs a nonlinear network."""
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.05, 1.0, n_per_class), n_classes)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    theta = labels * 2 * np.pi / n_classes + radius * 4 + rng.normal(0, noise, radius.shape)
    X = np.column_stack([radius * np.sin(theta), radius * np.cos(theta)]).astype(np.float32)
    return X, labels.astype(np.int64)
