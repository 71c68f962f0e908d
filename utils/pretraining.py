"""Pretraining when labels are scarce (chapter 07): few-label splits of the digits, autoencoders, greedy layer-wise
pretraining, two auxiliary tasks (same-digit pairs, real vs corrupted images), and the seed sweeps behind the
chapter's results grid and explorer.

The sweeps train hundreds of small networks, so they use numpy, in float64, with M networks of the same shape
trained side by side (one matrix product serves all of them): a whole grid of label counts, pretraining kinds and
seeds takes seconds, where Keras needs about a second per model just to trace its training step. Float64 also makes
the printed accuracies the same on every machine: rounding differences between CPUs, thread counts and BLAS kernels
stay near 1e-16 and never flip a test prediction. Taught in chapter 07, whose Keras cells build the same networks.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from utils import activations
from utils.blas import single_blas_thread
from utils.mlp import Adam  # the course's one Adam, as Keras computes it

LABELS_PER_CLASS = (2, 5, 10, 20, 50)
SEEDS = (0, 1, 2, 3, 4)
ENCODER_SIZES = (64, 64, 32)  # input pixels, hidden units, codings: the encoder every method pretrains
N_CLASSES = 10
KINDS = {
    "none": "from scratch",
    "autoencoder": "autoencoder",
    "corrupted": "real vs corrupted",
    "pairs": "same-digit pairs",
}
REUSE = ("fine-tuned", "frozen")
MIN_LABELS_FOR_PAIRS = 2  # a same-digit pair of two different images needs two labeled images of a digit


# ------------------------------------------------------------------------------------------------------------
# Data: all images unlabeled, a few labeled, the test set kept apart
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FewLabels:
    """The scarce-label situation, as float64 arrays.

    ``X_unlabeled``: every image outside the test set (the digits' training and validation parts), without labels:
    what pretraining may use. ``X_labeled``, ``y_labeled``: ``labels_per_class`` labeled images of each digit,
    drawn from ``X_unlabeled`` with ``seed``. ``X_test``, ``y_test``: the same held-out images for every seed.
    """

    X_unlabeled: np.ndarray
    X_labeled: np.ndarray
    y_labeled: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    labels_per_class: int
    seed: int


@functools.cache
def _digits_pool():
    """Return the unlabeled pool, its (hidden) labels, and the test set, from the course's standard split."""
    from utils.data import load_digits_splits

    splits = load_digits_splits()  # seed 42: the same test images as chapters 01-06
    pool = np.vstack([splits.X_train, splits.X_valid]).astype(np.float64)
    labels = np.concatenate([splits.y_train, splits.y_valid])
    arrays = (pool, labels, splits.X_test.astype(np.float64), splits.y_test)
    for array in arrays:
        array.flags.writeable = False  # shared by every call: nobody may change them
    return arrays


def few_label_splits(labels_per_class: int = 10, seed: int = 0) -> FewLabels:
    """Return the digits with only ``labels_per_class`` labeled images per digit (drawn with ``seed``)."""
    pool, labels, X_test, y_test = _digits_pool()
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(labels == c), labels_per_class, replace=False) for c in range(N_CLASSES)]
    index = rng.permutation(np.concatenate(picked))
    return FewLabels(pool, pool[index], labels[index], X_test, y_test, labels_per_class, seed)


def shared_rows(a: np.ndarray, b: np.ndarray) -> int:
    """Return how many rows of ``a`` also appear, exactly, in ``b`` (the digits have no duplicate images)."""
    seen = {row.tobytes() for row in np.ascontiguousarray(b, dtype=np.float64).reshape(len(b), -1)}
    rows = np.ascontiguousarray(a, dtype=np.float64).reshape(len(a), -1)
    return sum(row.tobytes() in seen for row in rows)


def corrupt(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return corrupted copies of 8x8 images: from a random row (3 to 5) down, each takes another image's rows.

    The book's "corrupt good examples to make bad ones": a chimera keeps plausible strokes and pixel statistics,
    so telling it from a real digit needs to know what digits look like.
    """
    images = np.array(X, dtype=np.float64).reshape(-1, 8, 8)
    donors = images[rng.permutation(len(images))]
    cut = rng.integers(3, 6, len(images))
    below = np.arange(8)[None, :] >= cut[:, None]  # (n, 8): which rows come from the donor
    return np.where(below[:, :, None], donors, images).reshape(len(images), -1)


def make_pairs(X: np.ndarray, y: np.ndarray, n_pairs: int, rng: np.random.Generator):
    """Return ``(left, right, same)``: ``n_pairs`` pairs of two different images, half of them the same digit.

    Built only from the labeled images ``(X, y)``: n labeled images give n (n - 1) / 2 pairs, many more
    training examples than labels. ``same`` is 1 for a same-digit pair, else 0. Needs two images of each digit.
    """
    y = np.asarray(y)
    order = np.argsort(y, kind="stable")  # the images grouped by digit
    counts = np.bincount(y, minlength=N_CLASSES)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(y), dtype=np.int64)
    rank[order] = np.arange(len(y)) - starts[y[order]]  # each image's position within its digit's group
    same = (np.arange(n_pairs) % 2 == 0).astype(np.int64)
    left = rng.integers(0, len(y), n_pairs)
    digit = y[left]
    # Same digit: another member of left's group (a shift of 1..count-1 within the group, never itself).
    shift = 1 + np.floor(rng.random(n_pairs) * (counts[digit] - 1)).astype(np.int64)
    partner = order[starts[digit] + (rank[left] + shift) % counts[digit]]
    # Different digit: any image outside left's group (a uniform position among the other n - count images).
    position = np.floor(rng.random(n_pairs) * (len(y) - counts[digit])).astype(np.int64)
    position = np.where(position >= starts[digit], position + counts[digit], position)
    right = np.where(same == 1, partner, order[np.minimum(position, len(y) - 1)])
    shuffle = rng.permutation(n_pairs)
    return X[left[shuffle]], X[right[shuffle]], same[shuffle]


# ------------------------------------------------------------------------------------------------------------
# M dense networks of the same shape, trained side by side in float64
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Stack:
    """``M`` stacks of dense layers: weights (M, fan_in, fan_out), biases (M, 1, fan_out), one activation per layer."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activations: list[str]

    @property
    def n_models(self) -> int:
        return self.weights[0].shape[0]

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.weights[0].shape[1], *(w.shape[2] for w in self.weights))

    def parameters(self) -> list[np.ndarray]:
        """Return the trainable arrays, in the order of :func:`backward`'s gradients: weights, then biases."""
        return [*self.weights, *self.biases]

    def copy(self) -> Stack:
        return Stack([w.copy() for w in self.weights], [b.copy() for b in self.biases], list(self.activations))

    def select(self, models) -> Stack:
        """Return a copy holding only the networks at positions ``models`` (repeats allowed)."""
        models = np.asarray(models)
        return Stack([w[models] for w in self.weights], [b[models] for b in self.biases], list(self.activations))

    def then(self, other: Stack) -> Stack:
        """Return this stack followed by ``other`` (the same arrays, not copies)."""
        return Stack(self.weights + other.weights, self.biases + other.biases, self.activations + other.activations)


def init_stack(sizes, acts, n_models: int, rng: np.random.Generator) -> Stack:
    """Return ``n_models`` freshly initialized networks: He normal before ReLU, Glorot normal elsewhere, zero biases.

    Parameters
    ----------
    sizes : layer widths, input first (e.g. ``(64, 64, 32)``).
    acts : one activation name per layer (``"relu"``, ``"linear"``).
    n_models : how many networks to draw; rng : the generator.
    """
    weights, biases = [], []
    for (fan_in, fan_out), act in zip(zip(sizes[:-1], sizes[1:], strict=True), acts, strict=True):
        std = np.sqrt(2 / fan_in) if act == "relu" else np.sqrt(2 / (fan_in + fan_out))
        weights.append(std * rng.standard_normal((n_models, fan_in, fan_out)))
        biases.append(np.zeros((n_models, 1, fan_out)))
    return Stack(weights, biases, list(acts))


def new_encoders(n_models: int, rng: np.random.Generator) -> Stack:
    """Return ``n_models`` fresh encoders 64 -> 64 -> 32, ReLU (the networks every method pretrains)."""
    return init_stack(ENCODER_SIZES, ("relu", "relu"), n_models, rng)


def forward(stack: Stack, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return ``(hs, zs)``: every layer's input then the output, and every layer's pre-activation.

    ``X`` is (n, features) for the same inputs to every network, or (M, n, features).
    """
    hs, zs = [X], []
    for W, b, act in zip(stack.weights, stack.biases, stack.activations, strict=True):
        z = hs[-1] @ W + b
        zs.append(z)
        hs.append(activations.get(act)[0](z))
    return hs, zs


def predict(stack: Stack, X: np.ndarray) -> np.ndarray:
    """Return the outputs of every network, shape (M, n, outputs)."""
    return forward(stack, X)[0][-1]  # (n, f) @ (M, f, h) broadcasts to (M, n, h)


def backward(stack: Stack, hs, zs, d_out: np.ndarray, *, input_gradient: bool = False):
    """Return the gradients (ordered as :meth:`Stack.parameters`) and, if asked, the gradient for the input."""
    d_ws, d_bs, d = [None] * len(zs), [None] * len(zs), d_out
    for i in reversed(range(len(zs))):
        d = d * activations.get(stack.activations[i])[1](zs[i])
        h = np.broadcast_to(hs[i], (*d.shape[:-1], hs[i].shape[-1]))
        d_ws[i] = np.swapaxes(h, -1, -2) @ d
        d_bs[i] = d.sum(axis=-2, keepdims=True)
        if i or input_gradient:  # the images need no gradient: skip one matrix product
            d = d @ np.swapaxes(stack.weights[i], -1, -2)
    return [*d_ws, *d_bs], d


def mse_gradient(output: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean squared error of each network (shape (M,)) and its gradient with respect to ``output``."""
    error = output - target
    per_network = error[0].size
    return np.mean(error**2, axis=(-2, -1)), 2 * error / per_network


def cross_entropy_gradient(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the softmax cross-entropy of each network (shape (M,)) and its gradient with respect to the logits.

    ``logits`` is (M, n, classes); ``y`` holds integer labels, (n,) shared or (M, n).
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    one_hot = np.eye(logits.shape[-1])[np.broadcast_to(y, logits.shape[:-1])]
    n = logits.shape[-2]
    return -np.sum(one_hot * log_p, axis=(-2, -1)) / n, (np.exp(log_p) - one_hot) / n


def _batches(n: int, batch_size: int, n_models: int, rng: np.random.Generator):
    """Yield, for one epoch, index arrays (M, batch): each network sees its own shuffle of ``n`` examples."""
    orders = np.argsort(rng.random((n_models, n)), axis=1)
    for start in range(0, n, batch_size):
        yield orders[:, start : start + batch_size]


def _rows(X: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Return X[index] per network: X is (n, f) shared or (M, n, f); index is (M, batch)."""
    if X.ndim == 2:
        return X[index]
    return X[np.arange(len(index))[:, None], index]


# ------------------------------------------------------------------------------------------------------------
# Pretraining: autoencoder, greedy layer-wise, real vs corrupted, same-digit pairs
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Pretrained:
    """Encoders pretrained one per seed (a :class:`Stack` of M networks), the task's network, and its scores.

    ``score`` is per network: the test-image reconstruction error (autoencoders) or the test accuracy of the
    auxiliary task (real vs corrupted, same-digit pairs), measured on held-out images never used to train.
    """

    kind: str
    encoder: Stack
    network: Stack
    score: np.ndarray
    losses: np.ndarray = field(repr=False)  # (epochs, M): the training loss per epoch

    @property
    def decoder(self) -> Stack:
        """Return the layers after the encoder (the decoder of an autoencoder, the head of an auxiliary task)."""
        n = len(self.encoder.weights)
        return Stack(self.network.weights[n:], self.network.biases[n:], self.network.activations[n:])


def _train_reconstruction(network: Stack, X, target, *, epochs, batch_size, learning_rate, rng):
    """Train ``network`` to output ``target`` from ``X`` (minibatches, Adam); return the loss per epoch, (epochs, M)."""
    params = network.parameters()
    optimizer = Adam(params, learning_rate)
    losses = []
    for _ in range(epochs):
        epoch = []
        for index in _batches(X.shape[-2], batch_size, network.n_models, rng):
            hs, zs = forward(network, _rows(X, index))
            loss, d_out = mse_gradient(hs[-1], _rows(target, index))
            grads, _ = backward(network, hs, zs, d_out)
            optimizer.step(params, grads)
            epoch.append(loss)
        losses.append(np.mean(epoch, axis=0))
    return np.array(losses)


def pretrain_autoencoder(
    X_unlabeled: np.ndarray,
    X_test: np.ndarray,
    seeds=SEEDS,
    *,
    epochs: int = 10,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
) -> Pretrained:
    """Train one autoencoder per seed on the unlabeled images, all layers at once; score: test reconstruction MSE.

    The encoder is 64 -> 64 -> 32 (ReLU), the decoder its mirror 32 -> 64 (ReLU) -> 64 (linear): pixels are
    standardized, so the output layer must reach negative values.

    Parameters
    ----------
    X_unlabeled : the images to pretrain on (never the test images), (n, 64).
    X_test : held-out images, only to measure the reconstruction error.
    seeds : one network per seed; epochs, batch_size, learning_rate : Adam's training settings.
    """
    rng = np.random.default_rng(list(seeds))
    encoder = new_encoders(len(seeds), rng)
    decoder = init_stack(ENCODER_SIZES[::-1], ("relu", "linear"), len(seeds), rng)
    network = encoder.then(decoder)
    with single_blas_thread():
        losses = _train_reconstruction(
            network,
            X_unlabeled,
            X_unlabeled,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            rng=rng,
        )
        score = mse_gradient(predict(network, X_test), X_test)[0]
    return Pretrained("autoencoder", encoder, network, score, losses)


def pretrain_greedy(
    X_unlabeled: np.ndarray,
    X_test: np.ndarray,
    seeds=SEEDS,
    *,
    epochs: int = 10,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
) -> Pretrained:
    """Pretrain the same encoder greedily, one layer at a time (Hinton et al., 2006; Bengio et al., 2007).

    Stage 1: a one-hidden-layer autoencoder 64 -> 64 -> 64 on the images. Stage 2: with layer 1 fixed, a second one,
    64 -> 32 -> 64, reconstructs layer 1's codes. Stacked, the two encoders give 64 -> 64 -> 32, and the two decoders
    (stage 2's, then stage 1's) reconstruct the images; each stage gets ``epochs``. Score: test reconstruction MSE.
    """
    rng = np.random.default_rng([*seeds, 1])
    m, (n_in, n_hidden, n_codings) = len(seeds), ENCODER_SIZES
    first = init_stack((n_in, n_hidden, n_in), ("relu", "linear"), m, rng)
    second = init_stack((n_hidden, n_codings, n_hidden), ("relu", "linear"), m, rng)
    settings = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate, "rng": rng}
    with single_blas_thread():
        losses_1 = _train_reconstruction(first, X_unlabeled, X_unlabeled, **settings)
        codes = forward(Stack(first.weights[:1], first.biases[:1], ["relu"]), X_unlabeled)[0][-1]
        losses_2 = _train_reconstruction(second, codes, codes, **settings)
        encoder = Stack([first.weights[0], second.weights[0]], [first.biases[0], second.biases[0]], ["relu", "relu"])
        decoder = Stack(
            [second.weights[1], first.weights[1]], [second.biases[1], first.biases[1]], ["linear", "linear"]
        )
        network = encoder.then(decoder)
        score = mse_gradient(predict(network, X_test), X_test)[0]
    return Pretrained("greedy", encoder, network, score, np.concatenate([losses_1, losses_2]))


def _train_classification(network: Stack, sample, *, steps: int, learning_rate: float, train_mask=None):
    """Train ``network`` on batches from ``sample(step) -> (X, y)``; return the loss per step, (steps, M).

    ``train_mask``, optional: one array of M zeros and ones per layer; a layer's gradient is multiplied by it, so a
    frozen layer of some networks gets zero gradients, and Adam then leaves it exactly as it was.
    """
    params = network.parameters()
    optimizer = Adam(params, learning_rate)
    losses = []
    for step in range(steps):
        X, y = sample(step)
        hs, zs = forward(network, X)
        loss, d_out = cross_entropy_gradient(hs[-1], y)
        grads, _ = backward(network, hs, zs, d_out)
        if train_mask is not None:
            n = len(network.weights)
            grads = [g * train_mask[i % n][:, None, None] for i, g in enumerate(grads)]
        optimizer.step(params, grads)
        losses.append(loss)
    return np.array(losses)


def pretrain_corrupted(
    X_unlabeled: np.ndarray,
    X_test: np.ndarray,
    seeds=SEEDS,
    *,
    epochs: int = 4,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
) -> Pretrained:
    """Pretrain the encoder on an auxiliary task that needs no label: is this image real, or corrupted?

    Each epoch shows every unlabeled image once, real (class 1) and once corrupted (class 0, :func:`corrupt`),
    fresh corruptions every epoch. Score: accuracy on the test images and corrupted copies of them.
    """
    rng = np.random.default_rng([*seeds, 2])
    m, n = len(seeds), len(X_unlabeled)
    network = new_encoders(m, rng).then(init_stack((ENCODER_SIZES[-1], 2), ("linear",), m, rng))
    per_epoch = -(-2 * n // batch_size)
    epoch_data = {}

    def sample(step):
        epoch, i = divmod(step, per_epoch)
        if i == 0:  # a new epoch: fresh corruptions, a fresh shuffle
            X = np.vstack([X_unlabeled, corrupt(X_unlabeled, rng)])
            epoch_data.update(X=X, y=np.repeat([1, 0], n), batches=list(_batches(2 * n, batch_size, m, rng)))
        index = epoch_data["batches"][i]
        return epoch_data["X"][index], epoch_data["y"][index]

    with single_blas_thread():
        losses = _train_classification(network, sample, steps=epochs * per_epoch, learning_rate=learning_rate)
        X_eval = np.vstack([X_test, corrupt(X_test, np.random.default_rng(99))])
        y_eval = np.repeat([1, 0], len(X_test))
        score = np.mean(np.argmax(predict(network, X_eval), axis=-1) == y_eval, axis=-1)
    encoder = Stack(network.weights[:2], network.biases[:2], network.activations[:2])
    return Pretrained("corrupted", encoder, network, score, losses.reshape(epochs, per_epoch, m).mean(axis=1))


def _siamese_step(encoder: Stack, head: Stack, left, right, same):
    """Return the loss per network and the gradients (encoder's, then head's) for a batch of pairs."""
    hs_l, zs_l = forward(encoder, left)
    hs_r, zs_r = forward(encoder, right)
    gap = hs_l[-1] - hs_r[-1]
    hs_h, zs_h = forward(head, np.abs(gap))
    loss, d_out = cross_entropy_gradient(hs_h[-1], same)
    head_grads, d_abs = backward(head, hs_h, zs_h, d_out, input_gradient=True)
    d_gap = d_abs * np.sign(gap)
    grads_l, _ = backward(encoder, hs_l, zs_l, d_gap)
    grads_r, _ = backward(encoder, hs_r, zs_r, -d_gap)
    return loss, [a + b for a, b in zip(grads_l, grads_r, strict=True)] + head_grads


def pretrain_pairs(
    data: list[FewLabels],
    *,
    steps: int = 100,
    batch_size: int = 32,
    learning_rate: float = 3e-3,
) -> Pretrained:
    """Pretrain one encoder per labeled set on the auxiliary task "are these two images the same digit?".

    A siamese network: the same encoder reads both images, and a small head decides from the absolute difference
    of their codings (two classes, softmax). Pairs come only from each set's labeled images (:func:`make_pairs`),
    fresh ones every step. Score: accuracy on pairs of test images.
    """
    if min(d.labels_per_class for d in data) < MIN_LABELS_FOR_PAIRS:
        raise ValueError(f"same-digit pairs need at least {MIN_LABELS_FOR_PAIRS} labeled images per digit")
    rngs = [np.random.default_rng([d.seed, d.labels_per_class, 3]) for d in data]
    rng = np.random.default_rng([len(data), data[0].labels_per_class, 3])
    encoder = new_encoders(len(data), rng)
    head = init_stack((ENCODER_SIZES[-1], 2), ("linear",), len(data), rng)
    params = encoder.parameters() + head.parameters()
    optimizer = Adam(params, learning_rate)
    losses = []
    with single_blas_thread():
        for _ in range(steps):
            pairs = [make_pairs(d.X_labeled, d.y_labeled, batch_size, r) for d, r in zip(data, rngs, strict=True)]
            left, right, same = (np.stack(parts) for parts in zip(*pairs, strict=True))
            loss, grads = _siamese_step(encoder, head, left, right, same)
            optimizer.step(params, grads)
            losses.append(loss)
        test_rng = np.random.default_rng(98)
        left, right, same = make_pairs(data[0].X_test, data[0].y_test, 2 * len(data[0].y_test), test_rng)
        codes = [forward(encoder, X)[0][-1] for X in (left, right)]
        score = np.mean(np.argmax(forward(head, np.abs(codes[0] - codes[1]))[0][-1], axis=-1) == same, axis=-1)
    return Pretrained("pairs", encoder, encoder.then(head), score, np.array(losses))


# ------------------------------------------------------------------------------------------------------------
# Reuse: the pretrained encoder, frozen or fine-tuned, under a new softmax layer trained on the few labels
# ------------------------------------------------------------------------------------------------------------


def train_classifiers(
    encoders: Stack,
    X: np.ndarray,
    y: np.ndarray,
    frozen: np.ndarray,
    *,
    steps: int = 100,
    batch_size: int = 32,
    learning_rate: float = 5e-3,
    seed: int = 0,
    n_inputs: int = ENCODER_SIZES[-1],
) -> Stack:
    """Train M classifiers, each an encoder (copied, not changed) and a new softmax layer, on few labels.

    Parameters
    ----------
    encoders : the M starting encoders (pretrained, or fresh for "from scratch").
    X, y : each network's labeled images (M, n, 64) and labels (M, n).
    frozen : (M,) booleans: True trains only the new layer, False fine-tunes everything.
    steps, batch_size, learning_rate : Adam on minibatches (the whole set when it is smaller than a batch).
    seed : for the new layers' weights and the batch order; n_inputs : the new layer's inputs (the codings).
    """
    rng = np.random.default_rng([seed, 4])
    m, n = X.shape[:2]
    network = encoders.copy().then(init_stack((n_inputs, N_CLASSES), ("linear",), m, rng))
    trainable = (~np.asarray(frozen)).astype(np.float64)
    mask = [trainable] * len(encoders.weights) + [np.ones(m)]
    batches = []

    def sample(step):
        if not batches:
            batches.extend(_batches(n, min(batch_size, n), m, rng))
        index = batches.pop(0)
        return _rows(X, index), y[np.arange(m)[:, None], index]

    with single_blas_thread():
        _train_classification(network, sample, steps=steps, learning_rate=learning_rate, train_mask=mask)
    return network


def accuracy(network: Stack, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the accuracy of each of the M networks on ``(X, y)``, shape (M,)."""
    with single_blas_thread():
        return np.mean(np.argmax(predict(network, X), axis=-1) == y, axis=-1)


def train_heads(
    codes: np.ndarray, y: np.ndarray, *, steps: int = 300, batch_size: int = 64, learning_rate: float = 1e-2, seed=0
) -> Stack:
    """Train only a new softmax layer on frozen encoders' codings (M, n, 32): computed once, reused every step.

    Chapter 06's trick for frozen layers: their output never changes, so cache it instead of recomputing it.
    A single layer is cheap to train, so it gets more steps than a whole network: a frozen encoder is then
    judged on its features, not on an unfinished softmax layer.
    """
    settings = {"steps": steps, "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed}
    no_encoder = Stack([], [], [])
    return train_classifiers(no_encoder, codes, y, np.zeros(len(codes), bool), n_inputs=codes.shape[-1], **settings)


# ------------------------------------------------------------------------------------------------------------
# The sweep: every pretraining kind x frozen / fine-tuned x labels per class x seed, against from scratch
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Sweep:
    """Test accuracies of the grid, ``accuracy[kind, reuse, labels, seed]`` (NaN where a cell does not exist).

    ``"none"`` (from scratch) has no frozen version; same-digit pairs need 2 labeled images per digit.
    ``pretrained`` keeps the networks pretrained without labels, by kind, for the chapter's figures.
    """

    accuracy: np.ndarray
    labels_per_class: tuple[int, ...]
    seeds: tuple[int, ...]
    pretrained: dict = field(default_factory=dict, repr=False)
    pairs_score: np.ndarray | None = field(default=None, repr=False)  # (labels, seeds): the pairs task's accuracy
    kinds: tuple[str, ...] = tuple(KINDS)
    reuses: tuple[str, ...] = REUSE

    def get(self, kind: str, reuse: str, labels_per_class: int) -> np.ndarray:
        """Return the test accuracy of every seed (shape (seeds,)) for one cell of the grid."""
        reuse = "fine-tuned" if kind == "none" else reuse
        return self.accuracy[
            self.kinds.index(kind), self.reuses.index(reuse), self.labels_per_class.index(labels_per_class)
        ]

    def gain(self, kind: str, reuse: str, labels_per_class: int) -> np.ndarray:
        """Return accuracy minus from-scratch accuracy, seed by seed (the same labeled images in both)."""
        return self.get(kind, reuse, labels_per_class) - self.get("none", reuse, labels_per_class)

    def verdict(self, kind: str, reuse: str, labels_per_class: int) -> str:
        """Return "helps" or "hurts" when every seed agrees, "mixed" when they do not, "n/a" for a missing cell."""
        gain = self.gain(kind, reuse, labels_per_class)
        if np.isnan(gain).any():
            return "n/a"
        return "helps" if np.all(gain > 0) else "hurts" if np.all(gain < 0) else "mixed"

    def table(self, reuse: str = "fine-tuned") -> str:
        """Return test accuracy, mean ± std over the seeds, one row per kind, one column per label count."""
        head = f"{'labels per digit →':<32}" + "".join(f"{k:>12}" for k in self.labels_per_class)
        rows = [head]
        for kind in self.kinds:
            if kind == "none" and reuse == "frozen":
                continue
            cells = [self.get(kind, reuse, k) for k in self.labels_per_class]
            text = ["n/a" if np.isnan(c).any() else f"{c.mean():.2f} ± {c.std():.2f}" for c in cells]
            label = KINDS[kind] + ("" if kind == "none" else f", {reuse}")
            rows.append(f"{label:<32}" + "".join(f"{t:>12}" for t in text))
        return "\n".join(rows)

    def verdicts(self, reuse: str = "fine-tuned") -> str:
        """Return, per kind and label count, whether pretraining beat from scratch on every seed."""
        rows = [f"{'gain over scratch, all seeds →':<32}" + "".join(f"{k:>12}" for k in self.labels_per_class)]
        for kind in self.kinds[1:]:
            text = [self.verdict(kind, reuse, k) for k in self.labels_per_class]
            rows.append(f"{KINDS[kind] + ', ' + reuse:<32}" + "".join(f"{t:>12}" for t in text))
        return "\n".join(rows)


def _stack_models(stacks: list[Stack]) -> Stack:
    """Return one Stack holding the networks of several (same shapes), in order."""
    n = len(stacks[0].weights)
    return Stack(
        [np.concatenate([s.weights[i] for s in stacks]) for i in range(n)],
        [np.concatenate([s.biases[i] for s in stacks]) for i in range(n)],
        list(stacks[0].activations),
    )


def pretrain_unlabeled(seeds=SEEDS) -> dict[str, Pretrained]:
    """Return the encoders pretrained without any label, one per seed: autoencoder, and real vs corrupted."""
    pool, _, X_test, _ = _digits_pool()
    return {
        "autoencoder": pretrain_autoencoder(pool, X_test, seeds),
        "corrupted": pretrain_corrupted(pool, X_test, seeds),
    }


def sweep_one_count(labels_per_class: int, seeds, pretrained: dict[str, Pretrained]) -> tuple[np.ndarray, np.ndarray]:
    """Return the accuracies ``[kind, reuse, seed]`` at one label count (see :class:`Sweep`), and the pairs task's.

    Every kind's classifiers train side by side on the same labeled images per seed, so the differences
    between kinds are paired: the seed changes which images are labeled, never only one side of a comparison.
    """
    data = [few_label_splits(labels_per_class, seed) for seed in seeds]
    X, y = np.stack([d.X_labeled for d in data]), np.stack([d.y_labeled for d in data])
    X_test, y_test = data[0].X_test, data[0].y_test
    encoders = {"none": new_encoders(len(seeds), np.random.default_rng([labels_per_class, 5]))}
    encoders |= {kind: p.encoder for kind, p in pretrained.items()}
    pairs = pretrain_pairs(data)
    encoders["pairs"] = pairs.encoder
    result = np.full((len(KINDS), len(REUSE), len(seeds)), np.nan)
    kinds, m = list(encoders), len(seeds)
    tile = len(kinds)
    start = _stack_models([encoders[k] for k in kinds])
    tuned = train_classifiers(start, np.tile(X, (tile, 1, 1)), np.tile(y, (tile, 1)), np.zeros(m * tile, bool))
    for kind, acc in zip(kinds, accuracy(tuned, X_test, y_test).reshape(tile, m), strict=True):
        result[list(KINDS).index(kind), REUSE.index("fine-tuned")] = acc
    frozen = kinds[1:]  # from scratch has no frozen version: a frozen random encoder is no pretraining
    encoder = _stack_models([encoders[k] for k in frozen])
    with single_blas_thread():
        codes, test_codes = (forward(encoder, Z)[0][-1] for Z in (np.tile(X, (len(frozen), 1, 1)), X_test))
    heads = train_heads(codes, np.tile(y, (len(frozen), 1)), seed=labels_per_class)
    for kind, acc in zip(frozen, accuracy(heads, test_codes, y_test).reshape(len(frozen), m), strict=True):
        result[list(KINDS).index(kind), REUSE.index("frozen")] = acc
    return result, pairs.score


def run_sweep(labels_per_class=LABELS_PER_CLASS, seeds=SEEDS) -> Sweep:
    """Pretrain every kind and train every classifier of the grid; return the :class:`Sweep` (a few seconds)."""
    labels_per_class, seeds = tuple(labels_per_class), tuple(seeds)
    pretrained = pretrain_unlabeled(seeds)
    grid, pairs = zip(*(sweep_one_count(k, seeds, pretrained) for k in labels_per_class), strict=True)
    return Sweep(np.stack(grid, axis=2), labels_per_class, seeds, pretrained, np.stack(pairs))


@functools.cache
def default_sweep() -> Sweep:
    """Return the chapter's sweep, computed on the first call only: the explorer reads it, it never trains."""
    return run_sweep()


# ------------------------------------------------------------------------------------------------------------
# The explorer: one cell of the grid, looked up (never trained) on every slider move
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridView:
    """What the explorer shows: mean and std per label count for from scratch and the chosen kind, and one cell."""

    kind: str
    reuse: str
    labels_per_class: int
    counts: tuple[int, ...]
    scratch_mean: np.ndarray
    scratch_std: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    accuracy: np.ndarray  # the chosen cell, per seed
    gain: np.ndarray  # the chosen cell minus from scratch, per seed
    verdict: str


def compute_pretraining_view(
    kind: str = "autoencoder", reuse: str = "fine-tuned", labels_per_class: int = 10, sweep: Sweep | None = None
) -> GridView:
    """Return the explorer's view of ``sweep`` (default: the chapter's, computed once) for one kind and reuse."""
    sweep = sweep or default_sweep()
    counts = sweep.labels_per_class
    scratch = np.array([sweep.get("none", reuse, k) for k in counts])
    chosen = np.array([sweep.get(kind, reuse, k) for k in counts])
    return GridView(
        kind,
        reuse,
        labels_per_class,
        counts,
        scratch.mean(axis=1),
        scratch.std(axis=1),
        chosen.mean(axis=1),
        chosen.std(axis=1),
        sweep.get(kind, reuse, labels_per_class),
        sweep.gain(kind, reuse, labels_per_class),
        sweep.verdict(kind, reuse, labels_per_class),
    )


# ------------------------------------------------------------------------------------------------------------
# Keras: the same networks, for the chapter's demos and the exercise checks
# ------------------------------------------------------------------------------------------------------------


def build_keras_autoencoder(n_inputs: int = 64, n_hidden: int = 64, n_codings: int = 32):
    """Return ``(encoder, decoder, autoencoder)``: Keras versions of the chapter's autoencoder (ReLU, He init).

    The autoencoder is the two Sequential models one after the other, so it shares their layers: training it
    trains them, and ``encoder`` can then be reused alone.
    """
    import keras

    Dense = keras.layers.Dense
    encoder = keras.Sequential(
        [
            keras.Input(shape=(n_inputs,)),
            Dense(n_hidden, activation="relu", kernel_initializer="he_normal"),
            Dense(n_codings, activation="relu", kernel_initializer="he_normal"),
        ],
        name="encoder",
    )
    decoder = keras.Sequential(
        [
            keras.Input(shape=(n_codings,)),
            Dense(n_hidden, activation="relu", kernel_initializer="he_normal"),
            Dense(n_inputs),  # linear: standardized pixels are negative too
        ],
        name="decoder",
    )
    return encoder, decoder, keras.Sequential([encoder, decoder], name="autoencoder")


def copy_encoder(encoder, *, trainable: bool = True):
    """Return an independent copy of a Keras model with the same weights: ``clone_model`` alone draws new ones."""
    import keras

    copy = keras.models.clone_model(encoder)
    copy.set_weights(encoder.get_weights())
    copy.trainable = trainable
    return copy


def reconstruction_error(autoencoder, X: np.ndarray) -> float:
    """Return the mean squared error of a Keras autoencoder's reconstructions of ``X``."""
    return float(np.mean((np.asarray(autoencoder.predict(X, verbose=0), dtype=np.float64) - X) ** 2))
