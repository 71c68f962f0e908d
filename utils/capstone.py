"""Chapter 08, the capstone: deep networks that will not train, how each fails, and how to repair it.

Seven broken set-ups on the digits (and a tiny recurrent network on synthetic sequences), each failing the way
one chapter taught; a fast training loop that records what a learner would watch (loss, validation score, the
gradient norm) and the per-layer statistics of chapter 01 at initialization; the repaired and the symptom-only
versions; and the results the chapter's explorer looks up (:func:`compute_capstone_view`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from utils.data import digits
from utils.diagnostics import LayerStats
from utils.models import build_mlp, compile_model, copy_model, restart, run_epochs

DEPTH, WIDTH = 8, 32  # deep enough for gradients to vanish or explode, small enough to train in about a second
EPOCHS, BATCH_SIZE = 6, 32
LEARNING_RATE = 0.05  # plain SGD: what every set-up uses unless its bug is the learning rate
DIGITS_TARGET = 0.85  # validation accuracy a repaired digits set-up reaches within EPOCHS, on every seed
JUDGED_EPOCHS = 3  # a run is judged on the best of its last 3 epochs: one noisy last epoch must not fail a repair
TOLERANCE = 0.03  # ...and passes within 0.03 of its target (He's std for 32 inputs, normal(0.25), ends at 0.848)
SEQ_LENGTH, SEQ_TRAIN, SEQ_VALID, RNN_UNITS, RNN_EPOCHS = 20, 512, 256, 16, 10
RNN_TARGET = 0.6  # R² (share of the variance of the sum explained) the clipped RNN reaches within RNN_EPOCHS
TRANSFER_PER_CLASS, TRANSFER_EPOCHS, TRANSFER_TARGET = 10, 10, 0.9  # target: digits 0-4 accuracy kept
TRANSFER_NEW_TASK = 0.5  # and digits 5-9 learned from 10 labels per class (chance: 0.2)
SEEDS = (0, 1, 2)
STATS_BATCH = 256  # examples used for the per-layer statistics: enough for stable fractions, cheap

# ------------------------------------------------------------------------------------------------------------
# Building blocks a learner can read and reuse
# ------------------------------------------------------------------------------------------------------------


def normal(stddev: float):
    """Return a Keras initializer that draws N(0, stddev²), whatever the layer's fan-in."""
    import keras

    return keras.initializers.RandomNormal(stddev=stddev)


def sum_rnn(activation: str = "relu"):
    """Return a one-layer SimpleRNN (16 units) that reads a sequence of numbers and predicts their scaled sum."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(SEQ_LENGTH, 1)),
            keras.layers.SimpleRNN(RNN_UNITS, activation=activation, unroll=True, name="rnn"),  # unrolled: faster
            keras.layers.Dense(1),
        ]
    )


# ------------------------------------------------------------------------------------------------------------
# The broken set-ups, as a colleague might hand them to you
# ------------------------------------------------------------------------------------------------------------


def broken_vanishing():
    """Return the vanishing set-up: 8 logistic layers, weights drawn with std 0.05."""
    model = build_mlp(DEPTH, WIDTH, "sigmoid", kernel_initializer=normal(0.05))
    return compile_model(model, learning_rate=LEARNING_RATE)


def broken_exploding():
    """Return the exploding set-up: 8 ReLU layers, weights drawn with std 1.0."""
    model = build_mlp(DEPTH, WIDTH, "relu", kernel_initializer=normal(1.0))
    return compile_model(model, learning_rate=LEARNING_RATE)


def broken_dead():
    """Return the dead-ReLU set-up: 8 ReLU layers with He weights, every bias starting at -3."""
    model = build_mlp(DEPTH, WIDTH, "relu", kernel_initializer="he_normal", bias_initializer=-3.0)
    return compile_model(model, learning_rate=LEARNING_RATE)


def broken_bn_model():
    """Return the BN set-up's model: 8 logistic layers, each Dense followed by BN (momentum 0.9)."""
    from utils.batchnorm import set_bn_momentum

    model = build_mlp(DEPTH, WIDTH, "sigmoid", batch_norm=True)
    set_bn_momentum(model, 0.9)  # forgets its start values within a few epochs
    return compile_model(model, learning_rate=LEARNING_RATE)


def broken_bn_step(model, x, y):
    """Take one training step of ``model`` on a batch; return the loss."""
    import keras
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, model(x)))
    grads = tape.gradient(loss, model.trainable_variables)
    model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    return loss


def broken_transfer(base):
    """Reuse ``base``'s hidden layers (trained on digits 0-4) for digits 5-9, freezing them; return the model."""
    import keras

    head = keras.layers.Dense(5, activation="softmax", name="head")
    model = keras.Sequential([keras.Input(shape=(64,)), *base.layers[:-1], head])
    compile_model(model, "adam", learning_rate=0.01)
    x, y = transfer_data().X_train, transfer_data().y_train
    model.fit(x[:10], y[:10], epochs=1, verbose=0)  # a quick smoke test that it runs
    for layer in model.layers[:-1]:
        layer.trainable = False  # keep the pretrained features
    return model


def broken_rnn():
    """Return the recurrent set-up: a ReLU SimpleRNN that learns to sum 20 numbers, trained with SGD."""
    return compile_model(sum_rnn("relu"), learning_rate=LEARNING_RATE, loss="mse")


def broken_mystery():
    """Return the mystery set-up: 8 ReLU layers, weights drawn with std 0.02, biases starting at -1."""
    model = build_mlp(DEPTH, WIDTH, "relu", kernel_initializer=normal(0.02), bias_initializer=-1.0)
    return compile_model(model, learning_rate=LEARNING_RATE)


# ------------------------------------------------------------------------------------------------------------
# Their repairs (the solutions), and fixes that treat only a symptom
# ------------------------------------------------------------------------------------------------------------


def fixed_vanishing():
    """Return the repaired vanishing set-up: ReLU with He initialization."""
    model = build_mlp(DEPTH, WIDTH, "relu", kernel_initializer="he_normal")
    return compile_model(model, learning_rate=LEARNING_RATE)


def fixed_exploding():
    """Return the repaired exploding set-up: the same ReLU stack, with He initialization (std √(2/fan_in))."""
    model = build_mlp(DEPTH, WIDTH, "relu", kernel_initializer="he_normal")
    return compile_model(model, learning_rate=LEARNING_RATE)


def fixed_dead():
    """Return the repaired dead-ReLU set-up: biases start at 0."""
    model = build_mlp(DEPTH, WIDTH, "relu", kernel_initializer="he_normal", bias_initializer=0.0)
    return compile_model(model, learning_rate=LEARNING_RATE)


def fixed_bn_step(model, x, y):
    """Take one training step of ``model`` on a batch, BN in training mode; return the loss."""
    import keras
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=True)))
    grads = tape.gradient(loss, model.trainable_variables)
    model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    return loss


def fixed_transfer(base):
    """Copy ``base`` (its layers are in use elsewhere), freeze the copy's hidden layers, then compile."""
    import keras

    copy = copy_model(base)  # clone_model (new weights), then the pretrained values: its variables are its own
    head = keras.layers.Dense(5, activation="softmax", name="head")
    model = keras.Sequential([keras.Input(shape=(64,)), *copy.layers[:-1], head])
    for layer in model.layers[:-1]:
        layer.trainable = False
    return compile_model(model, "adam", learning_rate=0.01)  # after freezing: fit traces with these flags


def fixed_rnn():
    """Return the repaired recurrent set-up: the same RNN, its gradients clipped to global norm 1 (chapter 05)."""
    return compile_model(sum_rnn("relu"), learning_rate=LEARNING_RATE, loss="mse", global_clipnorm=1.0)


def fixed_mystery():
    """Return the repaired mystery set-up: He initialization and zero biases."""
    model = build_mlp(DEPTH, WIDTH, "relu", kernel_initializer="he_normal", bias_initializer=0.0)
    return compile_model(model, learning_rate=LEARNING_RATE)


def clipped_exploding():
    """Return a symptom-only fix of the exploding set-up: clip the gradients, keep the std 1.0 weights."""
    model = build_mlp(DEPTH, WIDTH, "relu", kernel_initializer=normal(1.0))
    return compile_model(model, learning_rate=LEARNING_RATE, global_clipnorm=1.0)


def slower_dead():
    """Return a symptom-only fix of the dead-ReLU set-up: a 10× lower learning rate, biases still at -3."""
    model = build_mlp(DEPTH, WIDTH, "relu", kernel_initializer="he_normal", bias_initializer=-3.0)
    return compile_model(model, learning_rate=LEARNING_RATE / 10)


def half_fixed_mystery():
    """Return half a fix of the mystery: biases at 0, weights still drawn with std 0.02."""
    model = build_mlp(DEPTH, WIDTH, "relu", kernel_initializer=normal(0.02), bias_initializer=0.0)
    return compile_model(model, learning_rate=LEARNING_RATE)


# ------------------------------------------------------------------------------------------------------------
# The catalogue
# ------------------------------------------------------------------------------------------------------------

CAUSES = {
    "vanishing": "vanishing gradients (saturating activation, too small weights)",
    "exploding": "exploding gradients (too large an initialization)",
    "dead": "dead ReLUs (the units never fire)",
    "bn_mode": "BN never in training mode (moving averages never updated)",
    "frozen_train": "frozen layers still train (no compile after freezing)",
    "rnn_exploding": "exploding gradients through time (no clipping)",
    "init_too_small": "too small an initialization",
    "too_high_lr": "too high a learning rate",
}


@dataclass(frozen=True)
class Setup:
    """One broken set-up: how it is built and trained, what it suffers from, and which chapter fixes it."""

    name: str
    title: str
    causes: tuple[str, ...]
    chapter: str
    kind: str  # "dense" (a compiled model), "step" (a train step), "transfer" (a procedure on a base model)
    broken: Callable
    fixed: Callable
    symptom_only: Callable | None = None
    epochs: int = EPOCHS
    target: float = DIGITS_TARGET
    score_name: str = "validation accuracy"

    @property
    def pass_mark(self) -> float:
        """Return the score a run must reach in one of its last epochs: the target, less the noise tolerance."""
        return round(self.target - TOLERANCE, 2)


SETUPS = {
    s.name: s
    for s in (
        Setup("vanishing", "a deep logistic net", ("vanishing",), "02/03", "dense", broken_vanishing, fixed_vanishing),
        Setup(
            "exploding",
            "a deep ReLU net with large weights",
            ("exploding",),
            "02",
            "dense",
            broken_exploding,
            fixed_exploding,
            clipped_exploding,
        ),
        Setup(
            "dead", "a ReLU net whose units never fire", ("dead",), "03", "dense", broken_dead, fixed_dead, slower_dead
        ),
        Setup(
            "bn_mode", "a BN net trained in a custom loop", ("bn_mode",), "04", "step", broken_bn_step, fixed_bn_step
        ),
        Setup(
            "transfer",
            "reused layers that should be frozen",
            ("frozen_train",),
            "06",
            "transfer",
            broken_transfer,
            fixed_transfer,
            epochs=TRANSFER_EPOCHS,
            target=TRANSFER_TARGET,
            score_name="digits 0-4 accuracy of the base",
        ),
        Setup(
            "rnn",
            "a recurrent net that sums a sequence",
            ("rnn_exploding",),
            "05",
            "dense",
            broken_rnn,
            fixed_rnn,
            epochs=RNN_EPOCHS,
            target=RNN_TARGET,
            score_name="validation R²",
        ),
        Setup(
            "mystery",
            "the mystery",
            ("dead", "init_too_small"),
            "02/03",
            "dense",
            broken_mystery,
            fixed_mystery,
            half_fixed_mystery,
        ),
    )
}


def source(function: Callable) -> str:
    """Return the source code of a set-up's function, to read it (or copy and repair it)."""
    return inspect.getsource(function).rstrip()


# ------------------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------------------


def make_sum_sequences(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(x, y)``: ``n`` sequences of 20 N(0, 1) numbers and their sum / √20 (variance 1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, SEQ_LENGTH, 1)).astype(np.float32)
    return x, (x.sum(axis=1) / np.sqrt(SEQ_LENGTH)).astype(np.float32)


@dataclass(frozen=True)
class Data:
    """Training and validation arrays for one set-up."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray


@functools.cache
def sequence_data() -> Data:
    """Return the recurrent set-up's training and validation sequences (fixed seeds)."""
    return Data(*make_sum_sequences(SEQ_TRAIN, 1), *make_sum_sequences(SEQ_VALID, 2))


@functools.cache
def transfer_data() -> Data:
    """Return task B (digits 5-9 as 0-4) with 10 labelled training examples per class, and its validation set."""
    from utils.data import select_classes

    task_b = select_classes(digits(), (5, 6, 7, 8, 9))
    keep = np.concatenate([np.flatnonzero(task_b.y_train == c)[:TRANSFER_PER_CLASS] for c in range(5)])
    return Data(task_b.X_train[keep], task_b.y_train[keep], task_b.X_valid, task_b.y_valid)


def data_for(setup: Setup) -> Data:
    """Return the data a set-up trains on."""
    if setup.name == "rnn":
        return sequence_data()
    if setup.kind == "transfer":
        return transfer_data()
    d = digits()
    return Data(d.X_train, d.y_train, d.X_valid, d.y_valid)


# ------------------------------------------------------------------------------------------------------------
# Training fast, recording what a learner watches
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One training run: per-epoch loss, validation score and largest gradient norm, and statistics at the start."""

    setup: str
    variant: str
    seed: int
    loss: np.ndarray
    score: np.ndarray
    grad_norm: np.ndarray
    stats: LayerStats | None = field(default=None, repr=False)
    moved: np.ndarray | None = None  # transfer: how far each reused layer moved, ||W - W0|| / ||W0||
    other: np.ndarray | None = None  # transfer: the new model's accuracy on digits 5-9, per epoch
    model: object = field(default=None, repr=False)
    grad_steps: np.ndarray | None = None  # the gradient norm of every step, one row per epoch (before clipping)
    base: object = field(default=None, repr=False)  # transfer: the base model the procedure was given
    moved_before: np.ndarray | None = None  # transfer: how far the reused layers moved before the check's fit
    moved_in_fit: np.ndarray | None = None  # transfer: how far they moved during the check's fit

    @property
    def final(self) -> float:
        """Return the last epoch's validation score (NaN if training diverged)."""
        return float(self.score[-1])

    @property
    def judged(self) -> float:
        """Return the best validation score of the last JUDGED_EPOCHS epochs (NaN if training diverged)."""
        if self.diverged():
            return float("nan")
        return float(np.max(self.score[-JUDGED_EPOCHS:]))

    @property
    def spike(self) -> float:
        """Return the run's largest gradient norm over its median step's (≫ 1: rare huge steps)."""
        if self.grad_steps is None:
            return float("nan")
        norms = self.grad_steps[np.isfinite(self.grad_steps)]
        return float(np.max(norms) / np.median(norms)) if norms.size else float("nan")

    def diverged(self) -> bool:
        """Return True when the training loss became NaN or infinite."""
        return not np.all(np.isfinite(self.loss))

    def epochs_to(self, target: float) -> int | None:
        """Return the first epoch (1-based) whose validation score reaches ``target``, or None."""
        hits = np.flatnonzero(np.nan_to_num(self.score, nan=-np.inf) >= target)
        return int(hits[0]) + 1 if hits.size else None


def score(setup: Setup, model, data: Data) -> float:
    """Return the set-up's validation score: accuracy, or R² for the recurrent set-up."""
    return score_outputs(setup, np.asarray(model(data.X_valid, training=False)), data)


def score_outputs(setup: Setup, out: np.ndarray, data: Data) -> float:
    """Return the set-up's validation score from the model's outputs on the validation set."""
    out = np.asarray(out, dtype=np.float64)
    if setup.score_name == "validation R²":
        return float(1 - np.mean((out - data.y_valid) ** 2) / np.var(data.y_valid))
    return float(np.mean(np.argmax(out, axis=1) == data.y_valid))


_TRAINERS: dict = {}  # key -> (model, step): seeds of one version share one model and its traced epoch


def _signature(model) -> tuple:
    """Return what must match for two models to share a traced training graph: weight shapes, optimizer, loss."""
    config = {k: v for k, v in model.optimizer.get_config().items() if k != "name"}
    return tuple(tuple(w.shape) for w in model.weights), repr(sorted(config.items())), repr(model.loss)


def _trainer(model, step, key) -> tuple:
    """Return (the model to train, its step): for a ``key`` already traced with the same shapes, that model,
    restarted from ``model``'s weights (the same run as training ``model`` itself, without tracing it again)."""
    cached = _TRAINERS.get(key)
    if key is not None and cached is not None and _signature(cached[0]) == _signature(model):
        restart(cached[0], model.get_weights(), cached[0].optimizer)
        return cached
    trainer = (model, None if step is None else lambda x, y: step(model, x, y))
    if key is not None:
        _TRAINERS[key] = trainer
    return trainer


def train(setup: Setup, model, data: Data, *, seed: int, epochs: int | None = None, step=None, key=None) -> dict:
    """Train ``model`` with its optimizer, shuffled mini-batches of 32; return per-epoch loss, score, gradient norm.

    Parameters
    ----------
    setup : the set-up (gives the score and the number of epochs).
    model : a compiled Keras model; trained in place by :func:`utils.models.run_epochs`.
    data : training and validation arrays.
    seed : the shuffling seed.
    epochs : defaults to the set-up's.
    step : a train step ``step(model, x, y) -> loss`` to use instead of the standard one (the BN set-up).
    key : runs with the same key (one version of one set-up, other seeds) reuse one traced graph.

    Stops at the first epoch whose loss is not finite (the rest is NaN).
    """
    epochs = epochs or setup.epochs
    trained, one_step = _trainer(model, step, key)
    X, y = data.X_train, data.y_train
    record = run_epochs(
        trained, X, y, epochs=epochs, batch_size=BATCH_SIZE, step=one_step, seed=seed, validation=data.X_valid
    )
    scores = np.full(epochs, np.nan)
    for epoch, out in enumerate(record.outputs):
        if np.isfinite(record.loss[epoch]):
            scores[epoch] = score_outputs(setup, out, data)
    if trained is not model:  # hand the result back to the caller's model, optimizer step count included
        model.set_weights(trained.get_weights())
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(trained.optimizer.iterations)
    return {"loss": record.loss, "score": scores, "grad_norm": record.grad_norm, "grad_steps": record.step_norm}


def start_stats(model, data: Data) -> LayerStats | None:
    """Return chapter 01's per-layer statistics of ``model`` on a batch (None where they do not apply: the RNN)."""
    from utils.diagnostics import keras_layer_stats

    try:
        return keras_layer_stats(model, data.X_train[:STATS_BATCH], data.y_train[:STATS_BATCH])
    except (ValueError, TypeError):
        return None


# ------------------------------------------------------------------------------------------------------------
# Running a set-up (broken, fixed, or a learner's version)
# ------------------------------------------------------------------------------------------------------------


@functools.cache
def pretrained_weights(seed: int) -> tuple:
    """Return the weights of a 3×32 ReLU net trained on digits 0-4 (the base the transfer set-up reuses)."""
    from utils.course import seed_everything

    seed_everything(seed)
    base = compile_model(build_mlp(3, WIDTH, kernel_initializer="he_normal", n_classes=5), learning_rate=0.1)
    train(Setup("base", "", (), "", "dense", None, None, epochs=5), base, task_a_valid(), seed=seed)
    return tuple(w.copy() for w in base.get_weights())


def base_model(seed: int):
    """Return a fresh copy of the pretrained base for ``seed`` (its layers are reused, so never share one)."""
    base = build_mlp(3, WIDTH, kernel_initializer="he_normal", n_classes=5)
    base.set_weights(list(pretrained_weights(seed)))
    return base


_RUNS: dict = {}  # (name, variant, seed, answer) -> Run: a notebook that shows a run twice trains it once


def run_setup(name: str, variant: str = "broken", seed: int = 0, *, answer: Callable | None = None) -> Run:
    """Build and train one version of a set-up: ``variant`` is "broken", "fixed", "symptom-only", or the learner's.

    Parameters
    ----------
    name : a key of :data:`SETUPS`.
    variant : which version to run; with ``answer`` given, a label for it.
    seed : seeds the weights (Keras' global generator) and the shuffling.
    answer : the learner's version: a model builder (most set-ups), a train step (``bn_mode``), or a function
        of the pretrained base (``transfer``).
    """
    key = (name, variant, seed, answer)
    if key not in _RUNS:
        _RUNS[key] = _run_setup(name, variant, seed, answer)
    return _RUNS[key]


def _run_setup(name: str, variant: str, seed: int, answer: Callable | None) -> Run:
    from utils.course import seed_everything

    setup = SETUPS[name]
    version = answer or {"broken": setup.broken, "fixed": setup.fixed, "symptom-only": setup.symptom_only}[variant]
    data = data_for(setup)
    seed_everything(seed)
    if setup.kind == "transfer":
        return _run_transfer(setup, variant, seed, version, data)
    stats = None
    if setup.kind == "step":
        model = broken_bn_model()
        history = train(setup, model, data, seed=seed, step=version, key=(name, variant, answer))
    else:
        model = version()
        stats = start_stats(model, data)
        history = train(setup, model, data, seed=seed, key=(name, variant, answer))
    return Run(
        name,
        variant,
        seed,
        history["loss"],
        history["score"],
        history["grad_norm"],
        stats,
        model=model,
        grad_steps=history["grad_steps"],
    )


def _run_transfer(setup: Setup, variant: str, seed: int, procedure: Callable, data: Data) -> Run:
    """Run a transfer procedure on a fresh pretrained base, then train it with ``fit`` (where the bug lives).

    The score is the accuracy on digits 0-4 of the base model: a procedure that shares the base's layers (instead
    of copying them, chapter 06) and lets them train makes the base forget it. ``other`` is the new model's accuracy
    on digits 5-9; ``moved_before`` and ``moved_in_fit`` say whether the reused layers moved inside the procedure
    or during ``fit``.
    """
    import keras

    base = base_model(seed)
    kernels = list(pretrained_weights(seed))[0:-2:2]  # the hidden layers' kernels, as pretrained
    model = procedure(base)
    hidden = [layer for layer in model.layers if hasattr(layer, "kernel")][:-1]
    returned = [layer.kernel.numpy().copy() for layer in hidden]  # as the procedure left them
    stats = start_stats(model, data)
    task_a, kept, learned = task_a_valid(), [], []

    def record(epoch, logs):
        kept.append(float(np.mean(np.argmax(base(task_a.X_valid), axis=1) == task_a.y_valid)))
        learned.append(score(setup, model, data))

    history = model.fit(
        data.X_train,
        data.y_train,
        epochs=setup.epochs,
        batch_size=10,  # 50 examples: 5 full batches, one traced step
        verbose=0,
        shuffle=True,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=record)],
    ).history

    def change(now, then):
        return np.array(
            [np.linalg.norm(a - w) / np.linalg.norm(w) for a, w in zip(now, then, strict=False) if a.shape == w.shape]
        )

    now = [layer.kernel.numpy() for layer in hidden]
    loss = np.asarray(history["loss"])
    return Run(
        setup.name,
        variant,
        seed,
        loss,
        np.array(kept),
        np.full(len(loss), np.nan),
        stats,
        change(now, kernels),
        np.array(learned),
        model,
        base=base,
        moved_before=change(returned, kernels),
        moved_in_fit=change(now, returned),
    )


@functools.cache
def task_a_valid() -> Data:
    """Return digits 0-4 (training and validation), the task the transfer set-up's base was trained on."""
    from utils.data import select_classes

    task_a = select_classes(digits(), (0, 1, 2, 3, 4))
    return Data(task_a.X_train, task_a.y_train, task_a.X_valid, task_a.y_valid)


def run_over_seeds(name: str, variant: str = "broken", seeds=SEEDS, *, answer: Callable | None = None) -> list[Run]:
    """Return :func:`run_setup` for each seed."""
    return [run_setup(name, variant, seed, answer=answer) for seed in seeds]


def fails(setup: Setup, run: Run) -> bool:
    """Return True when a run misses its set-up's target: diverged, or below its pass mark (the target less 0.03)
    in each of its last 3 epochs."""
    return run.diverged() or not run.judged >= setup.pass_mark


def summary(runs: list[Run]) -> str:
    """Return one line: the final validation score over seeds (mean ± std), and how many runs diverged."""
    setup = SETUPS[runs[0].setup]
    finals = np.array([r.final for r in runs])
    diverged = sum(r.diverged() for r in runs)
    finite = finals[np.isfinite(finals)]
    text = f"{setup.score_name} {finite.mean():.2f} ± {finite.std():.2f}" if finite.size else "no finite score"
    return text + (f", {diverged} of {len(runs)} runs diverged (NaN loss)" if diverged else "")


# ------------------------------------------------------------------------------------------------------------
# The explorer's lookup: results computed once in the notebook
# ------------------------------------------------------------------------------------------------------------


@dataclass
class CapstoneView:
    """What the explorer draws for one set-up and one version: its run next to the broken run."""

    setup: Setup
    variant: str
    run: Run
    broken: Run


def compute_capstone_view(name: str = "exploding", variant: str = "fixed", results: dict | None = None) -> CapstoneView:
    """Return the runs to draw for set-up ``name`` and version ``variant``, looked up in ``results`` (a dict of dicts).

    Without ``results``, looks up the cached default results (:func:`default_results`, computed once).
    """
    results = results or default_results()
    runs = results[name]
    shown = variant if variant in runs else "broken"  # not every set-up has a symptom-only version
    return CapstoneView(SETUPS[name], shown, runs[shown], runs["broken"])


@functools.cache
def default_results() -> dict:
    """Return seed-0 runs of every set-up: broken, fixed, and symptom-only where there is one (cached)."""
    results = {}
    for name, setup in SETUPS.items():
        variants = ["broken", "fixed"] + (["symptom-only"] if setup.symptom_only else [])
        results[name] = {variant: run_setup(name, variant, 0) for variant in variants}
    return results


# ------------------------------------------------------------------------------------------------------------
# The batch the doctor examines (the checks of chapter 08 judge a learner's fix: utils.checks.ch08)
# ------------------------------------------------------------------------------------------------------------


def stats_batch(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the batch the doctor examines for set-up ``name``."""
    data = data_for(SETUPS[name])
    return data.X_train[:STATS_BATCH], data.y_train[:STATS_BATCH]
