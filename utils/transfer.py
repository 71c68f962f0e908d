"""Transfer learning on the digits (chapter 06): tasks A and B, reuse/freeze/cache helpers, and seed sweeps.

Task A is digits 0-4 (all its labels), task B digits 5-9 with only a few labels per class (``utils.data``'s split).
The Keras helpers (``reuse_layers``, ``freeze``, ``cached_features``...) are what the chapter teaches; the models
are ``utils.models``' (``build_mlp``, ``compile_model``, ``copy_model``). The seed sweeps train a float64 numpy twin
of the same dense networks on the course's engine (``utils.nets``: one network per seed, side by side) with the
same rule as Keras' ``SGD(momentum=...)`` on the same batches (:data:`SGD_RECIPE`): about a hundred times faster
than ``fit`` at this size, so that every number over seeds is computed in the notebook, and more stable across
CPUs than float32 (the chapter checks that the twin and Keras agree). A frozen lower part is run once per training
(its outputs cached), as taught.

The chapter's central experiment, printed → handwritten (the last part of this module): networks pretrained on
digits and letters rendered from fonts (``utils.glyphs``; the zoo's ``glyph_*`` models, made by
``tools/make_zoo.py``) are reused on the real digits with 2 to 50 labels per class, over seeds, against training
from scratch with the same early stopping, logistic regression on pixels, frozen random bodies and a pixel-permuted
source (:func:`reuse_accuracy`, :func:`logistic_accuracy`, :func:`glyph_sweep`); :func:`participation_ratio`
measures why the book's 0-4 → 5-9 pair does not pay.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from utils import nets
from utils.data import Splits, transfer_tasks
from utils.models import copy_model

# The course's pretrained network for task A: 4 hidden ReLU layers of 32 units (the zoo's "digits_0to4_mlp").
DEPTH, WIDTH = 4, 32
N_CLASSES = 5
LABELS_PER_CLASS = (5, 10, 20, 50)  # the few-label regimes of task B the sweeps cover
SEEDS = (0, 1, 2, 3, 4)
LEARNING_RATE, MOMENTUM, BATCH_SIZE = 0.05, 0.9, 32
PRETRAIN_EPOCHS = 20  # task A: 630 images, 20 batches per epoch
TRAIN_STEPS = 120  # task B: the same number of updates whatever the number of labels


# ------------------------------------------------------------------------------------------------------------
# Tasks
# ------------------------------------------------------------------------------------------------------------


@functools.cache
def tasks(seed: int = 42) -> tuple[Splits, Splits]:
    """Return tasks A (digits 0-4) and B (digits 5-9, relabeled 0-4) from ``utils.data``'s standardized split."""
    return transfer_tasks(seed)


def few_labels(splits: Splits, per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(X, y)``: ``per_class`` training images of each class drawn at random, in a shuffled order."""
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(splits.y_train == c), per_class, replace=False) for c in range(N_CLASSES)]
    order = rng.permutation(np.concatenate(picked))
    return splits.X_train[order], splits.y_train[order]


# ------------------------------------------------------------------------------------------------------------
# Keras: reuse, freeze, cache
# ------------------------------------------------------------------------------------------------------------


def reuse_layers(model, n_reused: int | None = None, *, n_new: int = 0, width: int = WIDTH, name: str = "model_b"):
    """Return a task-B model: a copy of ``model``'s lower layers, ``n_new`` fresh hidden layers, a new output.

    Parameters
    ----------
    model : the pretrained task-A model (left untouched: the copy owns its own weights).
    n_reused : how many of its hidden Dense layers to reuse (default: all); the layers above are dropped.
    n_new : fresh hidden ReLU layers put on top of the reused ones (``replacing`` the dropped layers).
    width : the width of the new hidden layers.
    name : the new model's name.
    """
    import keras

    lower = _lower_layers(copy_model(model), n_reused)
    new = [keras.layers.Dense(width, activation="relu", name=f"new_dense_{i + 1}") for i in range(n_new)]
    output = keras.layers.Dense(N_CLASSES, activation="softmax", name="new_output")
    return keras.Sequential([keras.Input(shape=(model.input_shape[-1],)), *lower, *new, output], name=name)


def _lower_layers(model, n_reused: int | None) -> list:
    """Return ``model``'s layers up to its ``n_reused``-th Dense layer and the BN/activation layers that follow it."""
    import keras

    layers = model.layers[:-1]  # below the output: Dense, and BN/Activation where the model has them
    dense = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Dense)]
    n_reused = len(dense) if n_reused is None else n_reused
    if n_reused == 0:
        return []
    end = dense[n_reused] if n_reused < len(dense) else len(layers)
    return layers[:end]


def freeze(model, n_layers: int) -> list[str]:
    """Set ``trainable = False`` on the first ``n_layers`` layers; return their names. Compile again afterwards."""
    frozen = model.layers[:n_layers]
    for layer in frozen:
        layer.trainable = False
    return [layer.name for layer in frozen]


def split_at(model, n_lower: int):
    """Return ``(trunk, head)``: two Sequential models sharing ``model``'s layers, below and above ``n_lower``."""
    import keras

    trunk = keras.Sequential([keras.Input(shape=(model.input_shape[-1],)), *model.layers[:n_lower]], name="trunk")
    head = keras.Sequential([keras.Input(shape=trunk.output_shape[1:]), *model.layers[n_lower:]], name="head")
    return trunk, head


def cached_features(trunk, X: np.ndarray) -> np.ndarray:
    """Run ``X`` once through the frozen ``trunk`` (inference mode) and return its outputs as float32."""
    return np.asarray(trunk(X, training=False), dtype=np.float32)


def fit_steps(model, X: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int = BATCH_SIZE):
    """Train quietly for ``epochs`` passes over ``(X, y)`` in a fixed batch order; return the model.

    The same updates as ``fit(X, y, epochs=epochs, shuffle=False)`` (runs can be compared weight for weight), fed as
    one Keras epoch of a repeated ``tf.data`` pipeline: for a model this small, Keras' per-epoch overhead (callbacks,
    logs) costs many times the training itself.
    """
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((X, y)).batch(batch_size).repeat(epochs)
    model.fit(data, epochs=1, shuffle=False, verbose=0)
    return model


def accuracy(model, X: np.ndarray, y: np.ndarray) -> float:
    """Return the accuracy of ``model`` on ``(X, y)``, predicted in inference mode (one call: no tracing)."""
    return float(np.mean(np.argmax(np.asarray(model(X, training=False)), axis=1) == y))


def weights_changed(before: list[np.ndarray], model) -> bool:
    """Return True when any of ``model``'s weights differs from the copies in ``before``."""
    return any(not np.array_equal(b, w) for b, w in zip(before, model.get_weights(), strict=True))


def epochs_for(n_examples: int, steps: int = TRAIN_STEPS, batch_size: int = BATCH_SIZE) -> int:
    """Return the number of epochs that gives about ``steps`` updates on ``n_examples`` in batches."""
    return max(1, round(steps / -(-n_examples // batch_size)))


# ------------------------------------------------------------------------------------------------------------
# The numpy twin: the same dense ReLU networks on the course's engine (utils.nets), several seeds side by side
# ------------------------------------------------------------------------------------------------------------

# The chapter's recipe in numpy: Keras' SGD(LEARNING_RATE, momentum=MOMENTUM), batches in a fixed order (no rng:
# like fit(shuffle=False)). ``nets.fit(net, X, y, epochs=..., **SGD_RECIPE)``.
SGD_RECIPE = {"optimizer": "sgd", "learning_rate": LEARNING_RATE, "momentum": MOMENTUM, "batch_size": BATCH_SIZE}


def random_net(sizes: list[int], n_seeds: int, rng: np.random.Generator) -> nets.MLP:
    """Return ``n_seeds`` ReLU networks side by side (logits out): Glorot-uniform kernels, as Keras, zero biases."""
    return nets.init_net(sizes, "relu", init="glorot", distribution="uniform", n_models=n_seeds, seed=rng)


def from_keras(model, n_seeds: int = 1) -> nets.MLP:
    """Return the numpy twin of a Keras MLP of Dense ReLU layers (or of its ``get_weights()``), ``n_seeds`` times."""
    weights = model if isinstance(model, list) else model.get_weights()
    kernels = [np.repeat(w[None].astype(np.float64), n_seeds, axis=0) for w in weights[::2]]
    biases = [np.repeat(b[None, None].astype(np.float64), n_seeds, axis=0) for b in weights[1::2]]
    return nets.MLP(kernels, biases, ["relu"] * (len(kernels) - 1) + ["linear"])


def keras_weights(net: nets.MLP, seed_index: int = 0) -> list[np.ndarray]:
    """Return one seed's weights in Keras' order (kernel, bias, kernel, bias, ...), as float32."""
    pairs = zip(net.weights, net.biases, strict=True)
    return [p.astype(np.float32) for w, b in pairs for p in (w[seed_index], b[seed_index, 0])]


# ------------------------------------------------------------------------------------------------------------
# Seed sweeps
# ------------------------------------------------------------------------------------------------------------


def pretrain_a(seeds=SEEDS, *, epochs: int = PRETRAIN_EPOCHS) -> nets.MLP:
    """Return task-A networks (one per seed, numpy twin), trained on all of task A's training images."""
    task_a, _ = tasks()
    net = random_net([task_a.n_features] + [WIDTH] * DEPTH + [N_CLASSES], len(seeds), _rng(seeds, "A"))
    nets.fit(net, task_a.X_train, task_a.y_train, epochs=epochs, **SGD_RECIPE)
    return net


def transfer_b(
    pretrained: nets.MLP | None,
    n_reused: int,
    n_frozen: int,
    per_class: int,
    seeds=SEEDS,
    *,
    steps: int = TRAIN_STEPS,
    unfreeze: int = 0,
) -> np.ndarray:
    """Return task B's test accuracy per seed: reuse ``n_reused`` hidden layers, freeze the lowest ``n_frozen``.

    Parameters
    ----------
    pretrained : task-A networks, one per seed (``pretrain_a``); None or ``n_reused=0``: training from scratch.
    n_reused : lower hidden layers copied from task A; the layers above are replaced by fresh ones (same sizes).
    n_frozen : how many of the reused layers are frozen (0..n_reused).
    per_class : task B's labels per class (drawn per seed).
    seeds, steps : the seeds, and about how many SGD updates to train for.
    unfreeze : then unfreeze the top ``unfreeze`` frozen layers and train ``steps`` more at a tenth of the
        learning rate, with a fresh optimizer (what compiling again does).
    """
    if not 0 <= n_frozen <= n_reused <= DEPTH:
        raise ValueError(f"need 0 <= n_frozen <= n_reused <= {DEPTH}, got {n_frozen} and {n_reused}")
    _, task_b = tasks()
    net = random_net([task_b.n_features] + [WIDTH] * DEPTH + [N_CLASSES], len(seeds), _rng(seeds, "B"))
    for i in range(n_reused):
        net.weights[i], net.biases[i] = pretrained.weights[i].copy(), pretrained.biases[i].copy()
    net.n_frozen = n_frozen
    X, y = zip(*(few_labels(task_b, per_class, seed) for seed in seeds), strict=True)
    X, y, epochs = np.stack(X), np.stack(y), epochs_for(len(y[0]), steps)
    nets.fit(net, X, y, epochs=epochs, **SGD_RECIPE)
    if unfreeze:  # a fresh optimizer, as compiling again gives
        net.n_frozen = n_frozen - unfreeze
        nets.fit(net, X, y, epochs=epochs, **SGD_RECIPE | {"learning_rate": LEARNING_RATE / 10})
    return nets.accuracy(net, task_b.X_test, task_b.y_test)


def _rng(seeds, task: str) -> np.random.Generator:
    return np.random.default_rng([*seeds, ord(task)])


@dataclass(frozen=True)
class SweepResults:
    """Task B's test accuracy per seed for every (reused, frozen, labels per class); scratch is reused = 0."""

    accuracy: dict  # (n_reused, n_frozen, per_class) -> array of one accuracy per seed
    seeds: tuple
    labels_per_class: tuple

    def get(self, n_reused: int, n_frozen: int, per_class: int) -> np.ndarray:
        """Return the accuracies (one per seed) of one setting."""
        return self.accuracy[(n_reused, min(n_frozen, n_reused), per_class)]

    def scratch(self, per_class: int) -> np.ndarray:
        """Return the accuracies of training from scratch (nothing reused)."""
        return self.get(0, 0, per_class)


def sweep(seeds=SEEDS, labels_per_class=LABELS_PER_CLASS, *, pretrained: nets.MLP | None = None) -> SweepResults:
    """Return task B's accuracy over seeds for every number of reused and frozen layers and every label count."""
    pretrained = pretrained or pretrain_a(seeds)
    results = {
        (k, f, n): transfer_b(pretrained, k, f, n, seeds)
        for n in labels_per_class
        for k in range(DEPTH + 1)
        for f in range(k + 1)
    }
    return SweepResults(results, tuple(seeds), tuple(labels_per_class))


@functools.cache
def default_sweep() -> SweepResults:
    """Return the sweep at its defaults, computed once per process (what the explorer shows without arguments)."""
    return sweep()


def mean_std(values) -> str:
    """Return ``values`` as 'mean ± std' with two decimals (the way the chapter prints results over seeds)."""
    values = np.asarray(values)
    return f"{values.mean():.2f} ± {values.std():.2f}"


@dataclass(frozen=True)
class TransferView:
    """What the explorer shows: one setting's mean and std against labels per class, and the scratch baseline."""

    n_reused: int
    n_frozen: int
    per_class: int
    labels_per_class: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    scratch_mean: np.ndarray
    scratch_std: np.ndarray
    grid: np.ndarray  # mean accuracy at ``per_class``, indexed [n_reused, n_frozen] (NaN where frozen > reused)

    def gain(self) -> float:
        """Return the mean accuracy gain over training from scratch at the chosen labels per class."""
        i = list(self.labels_per_class).index(self.per_class)
        return float(self.mean[i] - self.scratch_mean[i])


def compute_transfer_view(
    n_reused: int = 2, n_frozen: int = 2, per_class: int = 10, results: SweepResults | None = None
) -> TransferView:
    """Return the explorer's view of ``results`` (default: :func:`default_sweep`) for one setting; a lookup."""
    results = results or default_sweep()
    n_frozen = min(n_frozen, n_reused)
    labels = np.array(results.labels_per_class)
    runs = np.array([results.get(n_reused, n_frozen, n) for n in labels])
    scratch = np.array([results.scratch(n) for n in labels])
    grid = np.full((DEPTH + 1, DEPTH + 1), np.nan)
    for k in range(DEPTH + 1):
        for f in range(k + 1):
            grid[k, f] = results.get(k, f, per_class).mean()
    return TransferView(
        n_reused, n_frozen, per_class, labels, runs.mean(1), runs.std(1), scratch.mean(1), scratch.std(1), grid
    )


# ------------------------------------------------------------------------------------------------------------
# Printed → handwritten: when transfer helps (chapter 06's central experiment)
# ------------------------------------------------------------------------------------------------------------
# The source is rendered glyphs (``utils.glyphs``: printed digits, or letters for a task with other classes), the
# target the real handwritten digits. Protocol (issue 18): ``load_digits`` split 50/50 stratified; the test half
# only scores; the labels and a small validation set come from the other half. Every method trains with Adam and
# is scored at the epoch its validation accuracy was best (checked every EVAL_EVERY epochs, epoch 0 included), so
# training from scratch gets the same early stopping and budget as every reuse.

GLYPH_LABELS = (2, 5, 10, 20, 50)  # real labels per class
GLYPH_CLASSES = 10
VALID_PER_CLASS = 5  # validation labels per class, for early stopping only (the same for every method)
ADAM_RATE, HEAD_RATE = 1e-3, 1e-2  # all layers; a new head alone on frozen features
TUNE_EPOCHS, PROBE_EPOCHS, EVAL_EVERY = 200, 100, 10
SOURCE_EPOCHS, SOURCE_BATCH = 10, 64
SOURCE_PER_CLASS = {"digits": 2000, "letters": 400}  # 20,000 printed digits; 20,800 printed letters (52 classes)
# The elastic distortion of the printed source, in pixels of the 32x32 frame. At utils.glyphs' milder default the
# source is too clean for the real digits (measured: the gains at 5 labels per class vanish).
SOURCE_ELASTIC = 3.0
SOURCE_PERMUTATION_SEED = 1234  # the fixed pixel shuffle of the permuted source


def pixels(X: np.ndarray) -> np.ndarray:
    """Return optdigits-style counts 0..16 scaled to 0..1 (the inputs of every printed → handwritten network)."""
    return np.asarray(X, dtype=np.float64) / 16.0


@dataclass(frozen=True)
class FewLabels:
    """The target for a set of seeds: per seed its labeled images and validation images; one shared test set."""

    X: np.ndarray  # (n_seeds, n, 64), 0..1
    y: np.ndarray  # (n_seeds, n)
    X_valid: np.ndarray  # (n_seeds, m, 64)
    y_valid: np.ndarray
    X_test: np.ndarray  # (N, 64): the test half, never trained on
    y_test: np.ndarray


@functools.cache
def few_real_labels(per_class: int, seeds: tuple = SEEDS, split_seed: int = 0) -> FewLabels:
    """Return ``per_class`` real labeled digits per class for each seed, a disjoint validation set, the test half."""
    from utils.data import digits_halves, labeled_subset

    X_pool, y_pool, X_test, y_test = digits_halves(split_seed)
    parts = []
    for seed in seeds:
        valid = labeled_subset(y_pool, VALID_PER_CLASS, seed + 10_000)
        train = np.random.default_rng(seed).permutation(labeled_subset(y_pool, per_class, seed, exclude=valid))
        parts.append((X_pool[train], y_pool[train], X_pool[valid], y_pool[valid]))
    X, y, Xv, yv = (np.stack(p) for p in zip(*parts, strict=True))
    return FewLabels(pixels(X), y, pixels(Xv), yv, pixels(X_test), np.asarray(y_test))


@functools.cache
def source_images(
    kind: str = "digits",
    *,
    seed: int = 0,
    n_per_class: int | None = None,
    permuted: bool = False,
    elastic=SOURCE_ELASTIC,
):
    """Return ``(X, y)``: rendered printed digits or letters (``utils.glyphs``), scaled 0..1.

    ``permuted``: the same images with their 64 pixels shuffled by one fixed permutation (a source whose classes
    are as learnable, but whose features mean nothing on real digits: the negative control).
    """
    from utils.glyphs import DIGITS, LETTERS, render_glyphs

    chars = {"digits": DIGITS, "letters": LETTERS}[kind]
    X, y = render_glyphs(chars, n_per_class or SOURCE_PER_CLASS[kind], seed=seed, elastic=elastic)
    X = pixels(X)
    if permuted:
        X = X[:, np.random.default_rng(SOURCE_PERMUTATION_SEED).permutation(X.shape[1])]
    return X, y


def pretrain_source(X: np.ndarray, y: np.ndarray, *, seed: int = 0, epochs: int = SOURCE_EPOCHS) -> nets.MLP:
    """Return one network (numpy twin) trained on a source ``(X, y)``: 4×32 ReLU, Adam, batches of SOURCE_BATCH."""
    sizes = [X.shape[1]] + [WIDTH] * DEPTH + [int(y.max()) + 1]
    net = random_net(sizes, 1, np.random.default_rng(seed))
    nets.fit(net, X, y, epochs=epochs, batch_size=SOURCE_BATCH, optimizer="adam", learning_rate=ADAM_RATE)
    return net


def random_bodies(n_seeds: int = len(SEEDS), seed: int = 99) -> nets.MLP:
    """Return ``n_seeds`` untrained networks of the same shape: the frozen-random-features control."""
    return random_net([64] + [WIDTH] * DEPTH + [GLYPH_CLASSES], n_seeds, np.random.default_rng(seed))


def tune_batch_size(n_labeled: int) -> int:
    """Return the batch size on ``n_labeled`` real images: 32, or larger so that an epoch is at most 4 steps."""
    return max(BATCH_SIZE, -(-n_labeled // 4))


def _select(net: nets.MLP, data: FewLabels, best, *, epochs: int, learning_rate: float):
    """Train with Adam, checking every EVAL_EVERY epochs; return (best validation, the networks there) per seed.

    ``best`` is what an earlier stage returned, or ``(-1 per seed, None)``. The test set is scored once, at the end,
    on the networks kept (the same predictions as scoring each one when it was kept, for a twentieth of the work).
    """
    batch_size = tune_batch_size(data.y.shape[1])
    adam = nets.Adam(net.parameters(), learning_rate)  # one state for the whole run
    best_valid, kept = best
    for done in range(0, epochs + 1, EVAL_EVERY):
        if done:
            nets.fit(net, data.X, data.y, epochs=EVAL_EVERY, batch_size=batch_size, optimizer=adam)
        valid = nets.accuracy(net, data.X_valid, data.y_valid)
        improved = valid >= best_valid
        best_valid = np.where(improved, valid, best_valid)
        kept = net.copy() if kept is None else _keep(kept, net, improved)
    return best_valid, kept


def _keep(kept: nets.MLP, net: nets.MLP, improved: np.ndarray) -> nets.MLP:
    """Return ``kept`` with the networks of the seeds that ``improved`` replaced by copies of ``net``'s."""
    mask = improved[:, None, None]
    kept.weights = [np.where(mask, w, k) for w, k in zip(net.weights, kept.weights, strict=True)]
    kept.biases = [np.where(mask, b, k) for b, k in zip(net.biases, kept.biases, strict=True)]
    return kept


def _tiled(params: np.ndarray, n_seeds: int) -> np.ndarray:
    return params.copy() if params.shape[0] == n_seeds else np.repeat(params, n_seeds, axis=0)


STRATEGIES = {
    "scratch": "from scratch (same net, early stopping)",
    "head": "frozen body, new head only",
    "probe_finetune": "new head first, then fine-tune all",
    "finetune": "fine-tune all (source head kept)",
    "fresh_head_together": "new head trained with the body at once",
}


def reuse_accuracy(
    pretrained: nets.MLP | None,
    strategy: str,
    per_class: int,
    seeds: tuple = SEEDS,
    *,
    n_reused: int = DEPTH,
    n_frozen: int | None = None,
    epochs: int = TUNE_EPOCHS,
) -> np.ndarray:
    """Return the real-digit test accuracy per seed of one way of reusing ``pretrained`` (or of scratch).

    Parameters
    ----------
    pretrained : the source network (1 seed, or one per seed); unused for ``"scratch"``.
    strategy : a key of STRATEGIES. ``"head"``: the reused layers frozen, a new output trained alone (at
        HEAD_RATE); ``"probe_finetune"``: the same for PROBE_EPOCHS, then every layer at ADAM_RATE; ``"finetune"``:
        every layer from the start, the source's own output layer kept (needs the same 10 classes);
        ``"fresh_head_together"``: a new output and every layer from the start. With ``n_reused`` < DEPTH, the
        probe of ``"probe_finetune"`` trains the fresh layers above the reused ones too.
    per_class : real labels per class.
    n_reused, n_frozen : how many lower hidden layers are copied (the rest fresh, Yosinski et al. 2014), and how
        many of them stay frozen while the rest trains (default: all for "head", none otherwise).
    epochs : training epochs on the real labels (after the probe, for "probe_finetune").
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {sorted(STRATEGIES)}, got {strategy!r}")
    data = few_real_labels(per_class, tuple(seeds))
    sizes = [64] + [WIDTH] * DEPTH + [GLYPH_CLASSES]
    net = random_net(sizes, len(seeds), np.random.default_rng([*seeds, per_class, 7]))
    n_copied = 0 if strategy == "scratch" else n_reused + (strategy == "finetune")
    for i in range(n_copied):
        net.weights[i], net.biases[i] = (
            _tiled(pretrained.weights[i], len(seeds)),
            _tiled(pretrained.biases[i], len(seeds)),
        )
    best = (np.full(len(seeds), -1.0), None)
    if strategy in ("head", "probe_finetune"):
        net.n_frozen = DEPTH if strategy == "head" else n_reused  # the probe trains every fresh layer
        best = _select(net, data, best, epochs=epochs if strategy == "head" else PROBE_EPOCHS, learning_rate=HEAD_RATE)
    if strategy != "head":
        net.n_frozen = 0 if n_frozen is None else n_frozen
        best = _select(net, data, best, epochs=epochs, learning_rate=ADAM_RATE)
    return nets.accuracy(best[1], data.X_test, data.y_test)


def logistic_accuracy(per_class: int, seeds: tuple = SEEDS, Cs=(0.1, 1.0, 10.0)) -> np.ndarray:
    """Return, per seed, the test accuracy of logistic regression on the raw pixels, C chosen on validation."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    data = few_real_labels(per_class, tuple(seeds))
    scores = []
    with threadpool_limits(1):  # on a busy 2-core machine, several threads made it 10x slower
        for s in range(len(seeds)):
            fits = [LogisticRegression(C=C, max_iter=2000).fit(data.X[s], data.y[s]) for C in Cs]
            best = max(fits, key=lambda m: m.score(data.X_valid[s], data.y_valid[s]))
            scores.append(best.score(data.X_test, data.y_test))
    return np.array(scores)


def participation_ratio(H: np.ndarray) -> float:
    """Return the participation ratio of activations ``H`` (n, units): (Σλ)² / Σλ² over their covariance's eigenvalues.

    About the number of directions the activations really use: 1 when they vary along one line, ``units`` when
    they fill every direction equally.
    """
    eig = np.clip(np.linalg.eigvalsh(np.cov(H, rowvar=False)), 0.0, None)
    return float(eig.sum() ** 2 / max((eig**2).sum(), 1e-300))


def layer_participation(net: nets.MLP, X: np.ndarray, seed_index: int = 0) -> np.ndarray:
    """Return the participation ratio of each hidden layer's ReLU outputs for inputs ``X`` (one seed's network)."""
    hidden = nets.forward(net.select([seed_index]), X).hidden
    return np.array([participation_ratio(h[0]) for h in hidden])


def glyph_sweep(
    pretrained: nets.MLP, labels_per_class=(2, 5), seeds: tuple = SEEDS, *, strategy: str = "probe_finetune"
) -> SweepResults:
    """Return the Yosinski et al. (2014) sweep on printed → handwritten: reuse the lowest k layers, freeze f of them.

    The layers above the reused ones, the output included, start fresh; every setting trains with the same rule
    and early stopping (:func:`reuse_accuracy` with ``strategy``: by default the fresh layers are trained first,
    on the frozen reused ones, then all but the f frozen ones); k = 0 is training from scratch.
    """
    results = {}
    for n in labels_per_class:
        for k in range(DEPTH + 1):
            for f in range(k + 1):
                method = strategy if k else "scratch"
                results[(k, f, n)] = reuse_accuracy(pretrained, method, n, seeds, n_reused=k, n_frozen=f)
    return SweepResults(results, tuple(seeds), tuple(labels_per_class))


def gain_summary(gains: np.ndarray) -> str:
    """Return gains in accuracy points over seeds as 'mean [worst seed]' in whole points, e.g. '+12 [+7]'.

    Whole points: one test image is 0.11 points, so a decimal would differ between CPUs on a changed prediction.
    """
    gains = np.asarray(gains)
    return f"{gains.mean():+3.0f} [{gains.min():+3.0f}]"
