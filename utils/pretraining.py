"""Pretraining when labels are scarce (chapter 07): the few-label situation on the real digits, augmented views,
three pretrainings on the unlabeled pool (contrastive, autoencoder, "same digit or not?" answers), their reuse
(linear probe, then fine-tune) and the baselines an expert asks for, over seeds and label counts.

The sweeps train hundreds of small networks, so they use the course's numpy engine (:mod:`utils.nets`), in float64,
with M networks of the same shape trained side by side (one matrix product serves all of them): a whole grid of
label counts, methods and seeds takes seconds, where Keras spends about 43 ms per epoch on overhead alone. Float64
keeps rounding differences between CPUs, thread counts and BLAS kernels near 1e-16, so the printed accuracies are
stable to the rounding printed. What is chapter-specific stays here: the NT-Xent loss, the siamese step, the
step-counted training with per-network early stopping. The full pretrainings (:data:`FULL_PRETRAINING`) are
precomputed by `make zoo` and loaded with :func:`load_pretrained`. Taught in chapter 07, whose Keras cells build the
same networks.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from utils import nets
from utils.blas import single_blas_thread

LABELS_PER_CLASS = (2, 5, 10, 50)  # few labels, and a plenty-of-labels control (50 of the pool's ~90 per digit)
SEEDS = (0, 1, 2, 3, 4)
VALID_PER_CLASS = 5  # labeled validation images per digit, the same for every method: early stopping only
ENCODER_SIZES = (64, 128, 64)  # input pixels, hidden units, features: the encoder every method starts from
PROJECTION_SIZES = (64, 64, 16)  # SimCLR's projection head, thrown away after pretraining (Chen et al. 2020)
N_CLASSES = 10
KINDS = {
    "none": "from scratch",
    "augmented": "from scratch, augmented",
    "logistic": "logistic regression, pixels",
    "random": "random encoder",
    "simclr": "contrastive (SimCLR)",
    "autoencoder": "autoencoder",
    "pairs": "same digit or not?",
}
PRETRAINED = ("simclr", "autoencoder", "pairs")
REUSE = ("fine-tuned", "frozen")  # linear probe, then fine-tune everything; linear probe only
ONLY = {"none": "fine-tuned", "augmented": "fine-tuned", "logistic": "frozen", "random": "frozen"}


# ------------------------------------------------------------------------------------------------------------
# Data: the pool half (unlabeled, a few labels drawn from it), the test half kept apart
# ------------------------------------------------------------------------------------------------------------


@functools.cache
def digits_task(split_seed: int = 0):
    """Return ``(X_pool, y_pool, X_test, y_test)``: the digits' two halves, pixels scaled to 0..1, read-only.

    ``y_pool`` is hidden from pretraining: it only draws the few labels (and the pair answers of section 4).
    """
    from utils.data import digits_halves

    X_pool, y_pool, X_test, y_test = digits_halves(split_seed)
    arrays = (np.asarray(X_pool, np.float64) / 16, np.asarray(y_pool), np.asarray(X_test, np.float64) / 16, y_test)
    arrays = tuple(np.array(a) for a in arrays)
    for array in arrays:
        array.flags.writeable = False  # shared by every call: nobody may change them
    return arrays


@dataclass(frozen=True)
class FewLabels:
    """The scarce-label situation: the pool's images (unlabeled), a few labeled ones, a labeled validation set.

    ``X_labeled, y_labeled``: ``labels_per_class`` images per digit from the pool; ``X_valid, y_valid``:
    ``VALID_PER_CLASS`` others per digit, only to stop training (every method gets the same); ``X_test, y_test``:
    the other half of the digits, only for the reported accuracy.
    """

    X_pool: np.ndarray
    X_labeled: np.ndarray
    y_labeled: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    labels_per_class: int
    seed: int


def few_label_splits(labels_per_class: int = 10, seed: int = 0, *, split_seed: int = 0) -> FewLabels:
    """Return the digits with ``labels_per_class`` labeled images per digit (drawn with ``seed``)."""
    from utils.data import labeled_subset

    X_pool, y_pool, X_test, y_test = digits_task(split_seed)
    labeled = labeled_subset(y_pool, labels_per_class, seed)
    valid = labeled_subset(y_pool, VALID_PER_CLASS, seed + 1000, exclude=labeled)
    return FewLabels(
        X_pool, X_pool[labeled], y_pool[labeled], X_pool[valid], y_pool[valid], X_test, y_test, labels_per_class, seed
    )


def shared_rows(a: np.ndarray, b: np.ndarray) -> int:
    """Return how many rows of ``a`` also appear, exactly, in ``b``."""
    seen = {row.tobytes() for row in np.ascontiguousarray(b, dtype=np.float64).reshape(len(b), -1)}
    rows = np.ascontiguousarray(a, dtype=np.float64).reshape(len(a), -1)
    return sum(row.tobytes() in seen for row in rows)


# ------------------------------------------------------------------------------------------------------------
# Augmented views and pairs
# ------------------------------------------------------------------------------------------------------------

_GRID = np.stack(np.mgrid[0:8, 0:8], axis=-1).reshape(64, 2) - 3.5  # (row, column) of each pixel, centred


def augment(X: np.ndarray, rng: np.random.Generator, *, rotation=12.0, shear=0.25, scale=0.1, shift=0.75) -> np.ndarray:
    """Return a random view of each 8x8 image: rotated (± degrees), sheared, scaled, shifted (pixels), resampled.

    The transformations a digit survives, applied with bilinear interpolation (outside the image: 0). ``X`` is
    (..., 64); the result has its shape. Prior knowledge about digits, used by the contrastive and pair tasks and by
    the augmented scratch baseline alike.
    """
    flat = np.asarray(X, dtype=np.float64).reshape(-1, 64)
    n = len(flat)
    angle = np.deg2rad(rng.uniform(-rotation, rotation, n))
    cos, sin, s = np.cos(angle), np.sin(angle), 1 + rng.uniform(-scale, scale, n)
    k = rng.uniform(-shear, shear, n)
    # source = A @ target + t: rotation times a horizontal shear, scaled
    a = np.stack([np.stack([cos, -sin + cos * k], -1), np.stack([sin, cos + sin * k], -1)], -2) * s[:, None, None]
    source = _GRID @ np.swapaxes(a, -1, -2) + rng.uniform(-shift, shift, (n, 1, 2)) + 3.5  # (n, 64, 2)
    source = np.clip(source, -1, 8 - 1e-9)
    low = np.floor(source).astype(np.int64)
    frac = source - low
    padded = np.pad(flat.reshape(n, 8, 8), ((0, 0), (1, 1), (1, 1)))
    rows, cols = low[..., 0] + 1, low[..., 1] + 1
    image = np.arange(n)[:, None]
    out = sum(
        padded[image, rows + dr, cols + dc]
        * (frac[..., 0] if dr else 1 - frac[..., 0])
        * (frac[..., 1] if dc else 1 - frac[..., 1])
        for dr in (0, 1)
        for dc in (0, 1)
    )
    return out.reshape(np.shape(X))


def make_pairs(X: np.ndarray, y: np.ndarray, n_pairs: int, rng: np.random.Generator):
    """Return ``(left, right, same)``: ``n_pairs`` pairs of two different images, half of them the same digit.

    ``same`` is 1 for a same-digit pair, else 0: the cheap answer someone gives about a pair, "same digit or not?".
    Drawn with ``rng`` only (never the global ``np.random``), so a seed reproduces them. Needs two images per digit.
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
# The networks: M of the same shape side by side (utils.nets, the course's one numpy engine), float64
# ------------------------------------------------------------------------------------------------------------


def new_encoders(n_models: int, rng: np.random.Generator) -> nets.MLP:
    """Return ``n_models`` fresh encoders (``ENCODER_SIZES``, ReLU, He normal, zero biases): where every method starts.

    He at the top layer too (``output_init=None``): it is a ReLU layer, the features, not an output.
    """
    return nets.init_net(ENCODER_SIZES, ["relu", "relu"], n_models=n_models, seed=rng, output_init=None)


def nt_xent_gradient(z: np.ndarray, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """Return SimCLR's NT-Xent loss per network (shape (M,)) and its gradient with respect to ``z``.

    ``z`` is (M, 2B, d): rows i and i + B are two views of the same image. With cosine similarities
    s_ij and temperature tau, view i's loss is -log(exp(s_ip / tau) / sum_{k != i} exp(s_ik / tau)), p its partner;
    the loss is the mean over the 2B views (Chen et al. 2020).
    """
    two_b, view = z.shape[-2], np.arange(z.shape[-2])
    norm = np.sqrt(np.sum(z * z, axis=-1, keepdims=True)) + 1e-12
    u = z / norm
    s = u @ np.swapaxes(u, -1, -2) / temperature
    e = np.exp(s - 1 / temperature)  # cosines are at most 1: a fixed shift keeps exp in range
    e[..., view, view] = 0  # k != i: a view is not its own negative
    total = e.sum(axis=-1, keepdims=True)
    partner = (view + two_b // 2) % two_b
    loss = np.mean(np.log(total[..., 0]) + 1 / temperature - s[..., view, partner], axis=-1)
    d_s = e / total
    d_s[..., view, partner] -= 1
    d_s /= two_b
    d_u = (d_s + np.swapaxes(d_s, -1, -2)) @ u / temperature
    d_z = (d_u - u * np.sum(d_u * u, axis=-1, keepdims=True)) / norm
    return loss, d_z


# ------------------------------------------------------------------------------------------------------------
# Pretraining on the unlabeled pool: contrastive (SimCLR), autoencoder, "same digit or not?" answers
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Pretrained:
    """Encoders pretrained one per seed (one ``nets.MLP`` of M networks), the whole pretraining network, losses."""

    kind: str
    encoder: nets.MLP
    network: nets.MLP
    losses: np.ndarray = field(repr=False)  # (steps, M): the training loss per step

    @property
    def head(self) -> nets.MLP:
        """Return the layers after the encoder (decoder, projection head or pair head), thrown away after."""
        return self.network.layers(len(self.encoder.weights))


def _encoder_of(network: nets.MLP) -> nets.MLP:
    return network.layers(0, len(ENCODER_SIZES) - 1)


def pretrain_simclr(
    X_pool: np.ndarray,
    seeds=SEEDS,
    *,
    steps: int = 300,
    batch_size: int = 64,
    temperature: float = 0.2,
    learning_rate: float = 3e-3,
) -> Pretrained:
    """Pretrain one encoder per seed contrastively: two augmented views of an image should have close features.

    Encoder, then a projection head (``PROJECTION_SIZES``), trained on NT-Xent (:func:`nt_xent_gradient`) over
    batches of ``batch_size`` pool images, two fresh views each (:func:`augment`). No label is used.
    """
    rng = np.random.default_rng([*seeds, 10])
    m = len(seeds)
    network = new_encoders(m, rng).then(nets.init_net(PROJECTION_SIZES, "relu", n_models=m, seed=rng))
    params = network.parameters()
    optimizer = nets.Adam(params, learning_rate)
    losses = []
    with single_blas_thread():
        for _ in range(steps):
            index = rng.integers(0, len(X_pool), (m, batch_size))
            views = np.concatenate([augment(X_pool[index], rng), augment(X_pool[index], rng)], axis=1)
            trace = nets.forward(network, views)
            loss, d_out = nt_xent_gradient(trace.output, temperature)
            optimizer.step(params, nets.backward(network, trace, d_out).params)
            losses.append(loss)
    return Pretrained("simclr", _encoder_of(network), network, np.array(losses))


def pretrain_autoencoder(
    X_pool: np.ndarray, seeds=SEEDS, *, steps: int = 300, batch_size: int = 64, learning_rate: float = 3e-3
) -> Pretrained:
    """Pretrain one autoencoder per seed on the pool: encoder, then its mirror as decoder (linear output), MSE."""
    rng = np.random.default_rng([*seeds, 11])
    m = len(seeds)
    network = new_encoders(m, rng).then(nets.init_net(ENCODER_SIZES[::-1], "relu", n_models=m, seed=rng))
    params = network.parameters()
    optimizer = nets.Adam(params, learning_rate)
    losses = []
    with single_blas_thread():
        for _ in range(steps):
            X = X_pool[rng.integers(0, len(X_pool), (m, batch_size))]
            loss, grads = nets.gradients(network, X, X, loss="mse")
            optimizer.step(params, grads)
            losses.append(loss)
    return Pretrained("autoencoder", _encoder_of(network), network, np.array(losses))


def _siamese_step(encoder: nets.MLP, head: nets.MLP, left, right, same):
    """Return the loss per network and the gradients (encoder's, then head's) for a batch of pairs."""
    trace_l, trace_r = nets.forward(encoder, left), nets.forward(encoder, right)
    gap = trace_l.output - trace_r.output
    trace_h = nets.forward(head, np.abs(gap))
    loss, d_out = nets.softmax_cross_entropy(trace_h.output, same)
    head_grads = nets.backward(head, trace_h, d_out, input_gradient=True)
    d_gap = head_grads.input * np.sign(gap)
    grads_l = nets.backward(encoder, trace_l, d_gap).params
    grads_r = nets.backward(encoder, trace_r, -d_gap).params
    return loss, [a + b for a, b in zip(grads_l, grads_r, strict=True)] + head_grads.params


def pair_answers(X_pool, y_hidden, n_answers: int, seeds=SEEDS):
    """Return ``(left, right, same)`` stacked over seeds, (M, n_answers, ...): each seed's answered pool pairs."""
    pairs = [make_pairs(X_pool, y_hidden, n_answers, np.random.default_rng([seed, 12])) for seed in seeds]
    return tuple(np.stack(parts) for parts in zip(*pairs, strict=True))


def pretrain_pairs(
    X_pool: np.ndarray,
    y_hidden: np.ndarray,
    seeds=SEEDS,
    *,
    n_answers: int = 1000,
    augmented: bool = True,
    steps: int = 300,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
) -> Pretrained:
    """Pretrain one encoder per seed on ``n_answers`` "same digit or not?" answers about pool pairs (siamese).

    The same encoder reads both images; a linear head decides from the absolute difference of their features.
    ``y_hidden`` only answers the drawn pairs (:func:`make_pairs`): no image's label is given to the network.
    With ``augmented``, each pair is seen through fresh views (:func:`augment`) every time.
    """
    rng = np.random.default_rng([*seeds, 13])
    m = len(seeds)
    left, right, same = pair_answers(X_pool, y_hidden, n_answers, seeds)
    encoder = new_encoders(m, rng)
    head = nets.init_net((ENCODER_SIZES[-1], 2), ["linear"], n_models=m, seed=rng)
    params = encoder.parameters() + head.parameters()
    optimizer = nets.Adam(params, learning_rate)
    losses = []
    rows = np.arange(m)[:, None]
    with single_blas_thread():
        for _ in range(steps):
            index = rng.integers(0, n_answers, (m, batch_size))
            a, b = left[rows, index], right[rows, index]
            if augmented:
                a, b = augment(a, rng), augment(b, rng)
            loss, grads = _siamese_step(encoder, head, a, b, same[rows, index])
            optimizer.step(params, grads)
            losses.append(loss)
    return Pretrained("pairs", encoder, encoder.then(head), np.array(losses))


def pretrain_letter_pairs(
    seeds=SEEDS, *, n_per_class: int = 40, n_answers: int = 1000, render_seed: int = 0, **settings
) -> Pretrained:
    """Pretrain on "same letter or not?" answers about rendered letters: pairs of *other* identities.

    The book's faces example done faithfully: the answers are about other classes (52 letters rendered from
    matplotlib's fonts, :func:`utils.glyphs.render_glyphs`), never about the digits. Same network, pairs and
    training as :func:`pretrain_pairs` (``settings`` are passed on).
    """
    from utils.glyphs import LETTERS, render_glyphs

    X, y = render_glyphs(LETTERS, n_per_class, seed=render_seed)
    letters = pretrain_pairs(np.asarray(X, np.float64) / 16, y, seeds, n_answers=n_answers, **settings)
    letters.kind = "letters"
    return letters


# ------------------------------------------------------------------------------------------------------------
# Reuse and baselines: train M classifiers side by side, stop each at its best validation accuracy
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Trained:
    """M classifiers after training: the networks at their last step, and at their best validation checkpoint."""

    network: nets.MLP
    best: nets.MLP
    test_accuracy: np.ndarray  # (M,): at the checkpoint with the best validation accuracy
    best_step: np.ndarray  # (M,)


def train_classifiers(
    network: nets.MLP,
    X: np.ndarray,
    y: np.ndarray,
    valid: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    steps: int,
    learning_rate: float,
    batch_size: int = 64,
    augmented=None,
    every: int = 25,
    select: bool = True,
    seed: int = 0,
) -> Trained:
    """Train M classifiers (a :class:`utils.nets.MLP`, in place) on their labeled sets; keep each one's best checkpoint.

    A loop of its own rather than :func:`utils.nets.fit`: it counts steps, not epochs, checkpoints each network at
    its best validation accuracy, and augments some networks' batches; each step is the engine's.

    Parameters
    ----------
    network : M networks whose last layer outputs 10 logits.
    X, y : each network's labeled inputs (M, n, f) and labels (M, n).
    valid, test : ``(X, y)`` pairs, inputs (n, f) shared or (M, n, f); validation picks the checkpoint (every
        ``every`` steps and before the first), test is only measured there.
    steps, learning_rate, batch_size : Adam on minibatches (the whole set when it is smaller than a batch).
    augmented : optional (M,) booleans: those networks see fresh augmented views (:func:`augment`) of their batch.
    select : False keeps the last step instead (no early stopping; ``valid`` is then not used).
    """
    rng = np.random.default_rng([seed, 14])
    params = network.parameters()
    optimizer = nets.Adam(params, learning_rate)
    m, n = y.shape
    best_valid, best_step = np.full(m, -1.0), np.zeros(m, dtype=np.int64)
    batches = []

    def checkpoint(step):
        if not select:
            return
        val = nets.accuracy(network, *valid)
        better = val > best_valid
        best_valid[better], best_step[better] = val[better], step
        for kept, now in zip(best.parameters(), network.parameters(), strict=True):
            kept[better] = now[better]

    best = network.copy()
    with single_blas_thread():
        checkpoint(0)
        for step in range(1, steps + 1):
            if not batches:
                batches.extend(nets.batches(n, min(batch_size, n), rng, m))
            index = batches.pop(0)
            Xb = nets.rows(X, index, stacked=X.ndim == 3)
            if augmented is not None and np.any(augmented):
                Xb = Xb.copy()
                Xb[augmented] = augment(Xb[augmented], rng)
            _, grads = nets.gradients(network, Xb, nets.rows(y, index, stacked=True))
            optimizer.step(params, grads)
            if step % every == 0:
                checkpoint(step)
    best = best if select else network
    best_step = best_step if select else np.full(m, steps)
    best_test = nets.accuracy(best, *test)
    return Trained(network, best, best_test, best_step)


def new_heads(n_models: int, seed: int, n_inputs: int = ENCODER_SIZES[-1]) -> nets.MLP:
    """Return fresh softmax layers (logits, Glorot normal) for ``n_models`` networks."""
    return nets.init_net((n_inputs, N_CLASSES), ["linear"], n_models=n_models, seed=np.random.default_rng([seed, 15]))


PROBE = {"steps": 200, "learning_rate": 1e-2, "batch_size": 64}  # one layer on cached features: cheap
FINE_TUNE = {"steps": 200, "learning_rate": 1e-3, "batch_size": 64}  # whole networks, scratch and reuse alike
SCRATCH = {**FINE_TUNE, "steps": 800}  # from scratch (plain and augmented): a cap its best checkpoints stay under


def probe_then_fine_tune(encoder: nets.MLP, X: np.ndarray, y: np.ndarray, test, *, seed: int = 0):
    """Return test accuracies (probe, fine-tuned), (M,) each: ``PROBE`` steps, then ``FINE_TUNE`` steps, no stopping.

    The sweep's recipe without early stopping, for one labeled set ``(X, y)`` shared by the M encoders: the numpy
    twin of the chapter's Keras cells, step for step.
    """
    m = encoder.n_models
    Xs, ys = np.broadcast_to(X, (m, *X.shape)), np.broadcast_to(y, (m, len(y)))
    codes, test_codes = nets.predict(encoder, Xs), nets.predict(encoder, test[0])
    settings = {"select": False, "seed": seed}
    probe = train_classifiers(new_heads(m, seed), codes, ys, None, (test_codes, test[1]), **settings, **PROBE)
    network = encoder.copy().then(probe.network.copy())
    tuned = train_classifiers(network, Xs, ys, None, test, **settings, **FINE_TUNE)
    return probe.test_accuracy, tuned.test_accuracy


# ------------------------------------------------------------------------------------------------------------
# The sweep: every method x labels per class x seed, on the same labeled images within a seed
# ------------------------------------------------------------------------------------------------------------


def pretrain_all(seeds=SEEDS, split_seed: int = 0) -> dict[str, Pretrained]:
    """Return the three pretrainings on the pool half, one encoder per seed each."""
    X_pool, y_pool, _, _ = digits_task(split_seed)
    return {
        "simclr": pretrain_simclr(X_pool, seeds),
        "autoencoder": pretrain_autoencoder(X_pool, seeds),
        "pairs": pretrain_pairs(X_pool, y_pool, seeds),
    }


def _stack_models(stacks: list[nets.MLP]) -> nets.MLP:
    """Return one network stack holding the networks of several (same shapes), in order."""
    n = len(stacks[0].weights)
    return nets.MLP(
        [np.concatenate([s.weights[i] for s in stacks]) for i in range(n)],
        [np.concatenate([s.biases[i] for s in stacks]) for i in range(n)],
        list(stacks[0].activations),
    )


def sweep_one_count(
    labels_per_class: int, seeds, pretrained: dict[str, Pretrained], split_seed: int = 0, *, with_steps: bool = False
):
    """Return the test accuracies ``[kind, reuse, seed]`` at one label count (NaN where a cell does not exist).

    Within a seed every method gets the same labeled and validation images, so differences are paired.
    Frozen: a softmax layer on cached features (pixels for logistic regression, a random or pretrained encoder's).
    Fine-tuned: the pretrained encoders start under their probe's layer (linear probe, then fine-tune everything:
    Kumar et al. 2022); from scratch starts fresh, with or without augmented views of its labels, with a larger
    step cap (``SCRATCH``): augmented views keep changing and need more steps. With ``with_steps``, also return
    each fine-tuned kind's best validation step per seed (``{kind: (M,)}``).
    """
    (X, y), (Xv, yv), (Xt, yt) = _labeled_arrays(labels_per_class, seeds, split_seed)
    m = len(seeds)
    result = np.full((len(KINDS), len(REUSE), m), np.nan)
    best_steps = {}
    kinds = list(KINDS)
    random = new_encoders(m, np.random.default_rng([labels_per_class, 16]))
    # Frozen: linear probes on cached features, all kinds side by side
    probed = ["logistic", "random", *PRETRAINED]
    encoders = {"random": random} | {k: pretrained[k].encoder for k in PRETRAINED}
    codes = {"logistic": [np.broadcast_to(Z, (m, *Z.shape[-2:])) for Z in (X, Xv, Xt)]}
    codes |= {k: [nets.predict(e, Z) for Z in (X, Xv, Xt)] for k, e in encoders.items()}
    tile = len(probed)
    stacked = [np.concatenate([codes[k][i] for k in probed]) for i in range(3)]
    probes = train_classifiers(
        new_heads(tile * m, labels_per_class),
        stacked[0],
        np.tile(y, (tile, 1)),
        (stacked[1], np.tile(yv, (tile, 1))),
        (stacked[2], yt),
        seed=labels_per_class,
        **PROBE,
    )
    for i, kind in enumerate(probed):
        result[kinds.index(kind), REUSE.index("frozen")] = probes.test_accuracy[i * m : (i + 1) * m]
    # From scratch, plain and augmented: a larger cap (SCRATCH), stopped on the same validation set
    scratch = new_encoders(2 * m, np.random.default_rng([labels_per_class, 17])).then(
        new_heads(2 * m, labels_per_class + 100)
    )
    trained = train_classifiers(
        scratch.copy(),
        np.tile(X, (2, 1, 1)),
        np.tile(y, (2, 1)),
        (np.tile(Xv, (2, 1, 1)), np.tile(yv, (2, 1))),
        (Xt, yt),
        augmented=np.repeat([False, True], m),
        seed=labels_per_class + 1,
        **SCRATCH,
    )
    for i, kind in enumerate(("none", "augmented")):
        result[kinds.index(kind), REUSE.index("fine-tuned")] = trained.test_accuracy[i * m : (i + 1) * m]
        best_steps[kind] = trained.best_step[i * m : (i + 1) * m]
    # Fine-tuned: each pretraining's encoder under its probe's layer
    heads = probes.network
    starts = [pretrained[k].encoder for k in PRETRAINED]
    start_heads = [heads.select(np.arange(m) + probed.index(k) * m) for k in PRETRAINED]
    network = _stack_models(starts).then(_stack_models(start_heads)).copy()
    tile = len(PRETRAINED)
    fine = train_classifiers(
        network,
        np.tile(X, (tile, 1, 1)),
        np.tile(y, (tile, 1)),
        (np.tile(Xv, (tile, 1, 1)), np.tile(yv, (tile, 1))),
        (Xt, yt),
        seed=labels_per_class + 1,
        **FINE_TUNE,
    )
    for i, kind in enumerate(PRETRAINED):
        result[kinds.index(kind), REUSE.index("fine-tuned")] = fine.test_accuracy[i * m : (i + 1) * m]
        best_steps[kind] = fine.best_step[i * m : (i + 1) * m]
    return (result, best_steps) if with_steps else result


def _labeled_arrays(labels_per_class: int, seeds, split_seed: int = 0):
    """Return the labeled, validation and test arrays of every seed: (X, y), (Xv, yv), (Xt, yt)."""
    data = [few_label_splits(labels_per_class, s, split_seed=split_seed) for s in seeds]
    X, y = np.stack([d.X_labeled for d in data]), np.stack([d.y_labeled for d in data])
    Xv, yv = np.stack([d.X_valid for d in data]), np.stack([d.y_valid for d in data])
    return (X, y), (Xv, yv), (data[0].X_test, data[0].y_test)


def evaluate_encoders(encoders: nets.MLP, labels_per_class: int, seeds, split_seed: int = 0):
    """Return test accuracies (frozen, fine-tuned), (M,) each, of one encoder per seed, as the sweep trains them.

    A linear probe on cached features, then the probe's layer and the encoder fine-tuned together; both stopped on
    the validation set. For encoders outside the sweep (e.g. :func:`pretrain_letter_pairs`).
    """
    (X, y), (Xv, yv), (Xt, yt) = _labeled_arrays(labels_per_class, seeds, split_seed)
    codes = [nets.predict(encoders, Z) for Z in (X, Xv, Xt)]
    m = len(seeds)
    probe = train_classifiers(
        new_heads(m, labels_per_class), codes[0], y, (codes[1], yv), (codes[2], yt), seed=labels_per_class, **PROBE
    )
    network = encoders.copy().then(probe.network.copy())
    tuned = train_classifiers(network, X, y, (Xv, yv), (Xt, yt), seed=labels_per_class + 1, **FINE_TUNE)
    return probe.test_accuracy, tuned.test_accuracy


def fresh_head_fine_tune(
    labels_per_class: int, seeds, pretrained: dict[str, Pretrained], kinds=PRETRAINED, split_seed: int = 0
) -> np.ndarray:
    """Return test accuracies (kinds, seeds) when a fresh softmax layer trains together with the pretrained encoder.

    The shortcut Kumar et al. (2022) warn about: no linear probe first, so the random layer's large early gradients
    flow into the pretrained features. Same steps, rate and validation stopping as the sweep's fine-tuning.
    """
    (X, y), (Xv, yv), test = _labeled_arrays(labels_per_class, seeds, split_seed)
    m, tile = len(seeds), len(kinds)
    network = _stack_models([pretrained[k].encoder for k in kinds]).then(new_heads(tile * m, labels_per_class + 200))
    trained = train_classifiers(
        network.copy(),
        np.tile(X, (tile, 1, 1)),
        np.tile(y, (tile, 1)),
        (np.tile(Xv, (tile, 1, 1)), np.tile(yv, (tile, 1))),
        test,
        seed=labels_per_class + 2,
        **FINE_TUNE,
    )
    return trained.test_accuracy.reshape(tile, m)


@dataclass
class Sweep:
    """Test accuracies of the grid, ``accuracy[kind, reuse, labels, seed]`` (NaN where a cell does not exist).

    Baselines have one version only (``ONLY``): from scratch is trained whole, logistic regression and the random
    encoder are probed frozen; :meth:`get` returns that version whichever ``reuse`` is asked.
    """

    accuracy: np.ndarray
    labels_per_class: tuple[int, ...]
    seeds: tuple[int, ...]
    pretrained: dict = field(default_factory=dict, repr=False)
    best_steps: dict = field(default_factory=dict, repr=False)  # {kind: (labels, seeds)}: best validation step
    kinds: tuple[str, ...] = tuple(KINDS)
    reuses: tuple[str, ...] = REUSE

    def get(self, kind: str, reuse: str, labels_per_class: int) -> np.ndarray:
        """Return the test accuracy of every seed (shape (seeds,)) for one cell of the grid."""
        reuse = ONLY.get(kind, reuse)
        return self.accuracy[
            self.kinds.index(kind), self.reuses.index(reuse), self.labels_per_class.index(labels_per_class)
        ]

    def gain(self, kind: str, reuse: str, labels_per_class: int, baseline: str = "none") -> np.ndarray:
        """Return accuracy minus the baseline's (default: from scratch), seed by seed (the same labeled images)."""
        return self.get(kind, reuse, labels_per_class) - self.get(baseline, reuse, labels_per_class)

    def verdict(self, kind: str, reuse: str, labels_per_class: int, baseline: str = "none") -> str:
        """Return "helps" or "hurts" when every seed agrees, "mixed" when they do not."""
        gain = self.gain(kind, reuse, labels_per_class, baseline)
        return "helps" if np.all(gain > 0) else "hurts" if np.all(gain < 0) else "mixed"

    def table(self, reuse: str = "fine-tuned", kinds=None) -> str:
        """Return test accuracy, mean ± std over the seeds, one row per kind, one column per label count."""
        kinds = kinds or self.kinds
        rows = [f"{'labels per digit →':<34}" + "".join(f"{k:>12}" for k in self.labels_per_class)]
        for kind in kinds:
            cells = [self.get(kind, reuse, k) for k in self.labels_per_class]
            label = KINDS[kind] + (f", {ONLY.get(kind, reuse)}" if kind in PRETRAINED else "")
            rows.append(f"{label:<34}" + "".join(f"{c.mean():>7.2f} ±{c.std():>4.2f}" for c in cells))
        return "\n".join(rows)

    def gains_table(self, reuse: str = "fine-tuned", kinds=PRETRAINED, baseline: str = "none") -> str:
        """Return the gain over a baseline in points: mean [worst seed], one row per kind."""
        head = f"gain over {KINDS[baseline]} →"
        rows = [f"{head:<34}" + "".join(f"{k:>14}" for k in self.labels_per_class)]
        for kind in kinds:
            gains = [100 * self.gain(kind, reuse, k, baseline) for k in self.labels_per_class]
            cells = "".join(f"{f'{g.mean():+.1f} [{g.min():+.1f}]':>14}" for g in gains)
            rows.append(f"{KINDS[kind] + ', ' + ONLY.get(kind, reuse):<34}" + cells)
        return "\n".join(rows)


def run_sweep(labels_per_class=LABELS_PER_CLASS, seeds=SEEDS, *, split_seed: int = 0, pretrained=None) -> Sweep:
    """Pretrain (unless given ``pretrained``) and train every classifier of the grid; return the :class:`Sweep`."""
    labels_per_class, seeds = tuple(labels_per_class), tuple(seeds)
    pretrained = pretrained or pretrain_all(seeds, split_seed)
    counts = [sweep_one_count(k, seeds, pretrained, split_seed, with_steps=True) for k in labels_per_class]
    grid, steps = [c[0] for c in counts], [c[1] for c in counts]
    best_steps = {kind: np.stack([s[kind] for s in steps]) for kind in steps[0]}
    return Sweep(np.stack(grid, axis=2), labels_per_class, seeds, pretrained, best_steps)


@functools.cache
def default_sweep() -> Sweep:
    """Return the chapter's sweep on the zoo's full pretrainings (:func:`load_pretrained`), computed once.

    The explorer reads it, it never trains.
    """
    return run_sweep(pretrained=load_pretrained())


# ------------------------------------------------------------------------------------------------------------
# The full pretrainings, precomputed by `make zoo` (tools/make_zoo.py) and loaded from utils/zoo/
# ------------------------------------------------------------------------------------------------------------

# kind -> the full pretraining's settings (the chapter runs a short version in front of the learner)
FULL_PRETRAINING = {
    "simclr": {"steps": 2000, "batch_size": 128},
    "autoencoder": {"steps": 2000},
    "pairs": {"steps": 2000},
    "pairs_plain": {"steps": 2000, "augmented": False},  # the same answers, never augmented: the control
}


def zoo_name(kind: str) -> str:
    """Return the zoo name of chapter 07's full pretraining ``kind`` (one file holds the encoders of every seed)."""
    return f"ch07_{kind}_encoders"


def pretrain_full(kind: str, seeds=SEEDS, split_seed: int = 0) -> Pretrained:
    """Run the full pretraining ``kind`` of :data:`FULL_PRETRAINING` on the pool half (what `make zoo` stores)."""
    X_pool, y_pool, _, _ = digits_task(split_seed)
    settings = FULL_PRETRAINING[kind]
    if kind == "simclr":
        return pretrain_simclr(X_pool, seeds, **settings)
    if kind == "autoencoder":
        return pretrain_autoencoder(X_pool, seeds, **settings)
    return pretrain_pairs(X_pool, y_pool, seeds, **settings)


def encoders_to_keras(encoders: nets.MLP, seeds=SEEDS, name: str = "encoders"):
    """Return one Keras model holding the M encoders side by side (layer ``seed{s}_{i}``), outputs concatenated."""
    import keras

    inputs = keras.Input(shape=(ENCODER_SIZES[0],), name="pixels")  # fixed names: the same bytes on every build
    outputs = []
    for j, seed in enumerate(seeds):
        h = inputs
        for i, (W, b) in enumerate(zip(encoders.weights, encoders.biases, strict=True)):
            layer = keras.layers.Dense(W.shape[-1], activation="relu", name=f"seed{seed}_{i}", dtype="float32")
            h = layer(h)
            layer.set_weights([W[j].astype(np.float32), b[j, 0].astype(np.float32)])
        outputs.append(h)
    # An explicit dtype per layer: a shared default policy would be saved with its Python id (other bytes each time)
    return keras.Model(inputs, keras.layers.Concatenate(name="features", dtype="float32")(outputs), name=name)


def encoders_from_keras(model, seeds=SEEDS) -> nets.MLP:
    """Return the numpy encoders (a float64 :class:`utils.nets.MLP`) of a model made by :func:`encoders_to_keras`."""
    n = len(ENCODER_SIZES) - 1
    weights = [[model.get_layer(f"seed{s}_{i}").get_weights() for s in seeds] for i in range(n)]
    return nets.MLP(
        [np.stack([w[0] for w in layer]).astype(np.float64) for layer in weights],
        [np.stack([w[1] for w in layer])[:, None, :].astype(np.float64) for layer in weights],
        ["relu"] * n,
    )


def load_pretrained(kinds=PRETRAINED, seeds=SEEDS) -> dict[str, Pretrained]:
    """Return the zoo's full pretrainings (checksum verified, loaded in Keras' safe mode) as numpy encoders."""
    from utils import zoo

    loaded = {}
    for kind in kinds:
        encoder = encoders_from_keras(zoo.load(zoo_name(kind)), seeds)
        loaded[kind] = Pretrained(kind, encoder, encoder, np.zeros((0, len(seeds))))
    return loaded


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
    kind: str = "simclr", reuse: str = "fine-tuned", labels_per_class: int = 5, sweep: Sweep | None = None
) -> GridView:
    """Return the explorer's view of ``sweep`` (default: the chapter's, computed once) for one kind and reuse."""
    sweep = sweep or default_sweep()
    counts = sweep.labels_per_class
    scratch = np.array([sweep.get("none", reuse, k) for k in counts])
    chosen = np.array([sweep.get(kind, reuse, k) for k in counts])
    return GridView(
        kind,
        ONLY.get(kind, reuse),
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
# Keras: the same networks, for the chapter's demo and the exercise checks
# ------------------------------------------------------------------------------------------------------------


def keras_encoder(stack: nets.MLP | None = None, index: int = 0):
    """Return a Keras ``Sequential`` encoder (``ENCODER_SIZES``, ReLU, He init), with network ``index`` of ``stack``.

    Without ``stack`` the weights are fresh. The numpy float64 weights are stored as float32, Keras' default.
    """
    import keras

    layers = [keras.layers.Dense(n, activation="relu", kernel_initializer="he_normal") for n in ENCODER_SIZES[1:]]
    encoder = keras.Sequential([keras.Input(shape=(ENCODER_SIZES[0],)), *layers], name="encoder")
    if stack is not None:
        weights = []
        for W, b in zip(stack.weights, stack.biases, strict=True):
            weights += [W[index].astype(np.float32), b[index, 0].astype(np.float32)]
        encoder.set_weights(weights)
    return encoder


def copy_encoder(encoder, *, trainable: bool = True):
    """Return an independent copy of a Keras model with the same weights: ``clone_model`` alone draws new ones."""
    import keras

    copy = keras.models.clone_model(encoder)
    copy.set_weights(encoder.get_weights())
    copy.trainable = trainable
    return copy
