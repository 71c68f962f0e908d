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

from utils.diagnostics import LayerStats

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


def dense_stack(
    activation: str = "relu",
    kernel_initializer="he_normal",
    bias: float = 0.0,
    *,
    depth: int = DEPTH,
    n_classes: int = 10,
):
    """Return a digits classifier: ``depth`` Dense layers of 32 units, then a softmax over the classes.

    Parameters
    ----------
    activation : the hidden layers' activation.
    kernel_initializer : a Keras initializer (name or object), renewed for each layer.
    bias : the value every hidden bias starts at.
    depth : the number of hidden layers.
    n_classes : the number of classes.
    """
    import keras

    from utils.models import fresh_initializer

    layers = [
        keras.layers.Dense(
            WIDTH,
            name=f"dense_{i + 1}",
            activation=activation,
            kernel_initializer=fresh_initializer(kernel_initializer),
            bias_initializer=keras.initializers.Constant(bias),
        )
        for i in range(depth)
    ]
    output = keras.layers.Dense(n_classes, activation="softmax", name="output")
    return keras.Sequential([keras.Input(shape=(64,)), *layers, output])  # one build, not one per added layer


def compile_sgd(model, learning_rate: float = LEARNING_RATE, **clipping):
    """Compile ``model`` with plain SGD (optionally ``global_clipnorm=...``) and sparse cross-entropy, without XLA."""
    import keras

    optimizer = keras.optimizers.SGD(learning_rate=learning_rate, **clipping)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", jit_compile=False)
    return model


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


def compile_rnn(model, learning_rate: float = LEARNING_RATE, **clipping):
    """Compile the sequence model with SGD (optionally ``global_clipnorm=...``) and the mean squared error."""
    import keras

    model.compile(optimizer=keras.optimizers.SGD(learning_rate, **clipping), loss="mse", jit_compile=False)
    return model


# ------------------------------------------------------------------------------------------------------------
# The broken set-ups, as a colleague might hand them to you
# ------------------------------------------------------------------------------------------------------------


def broken_vanishing():
    """Return the vanishing set-up: 8 logistic layers, weights drawn with std 0.05."""
    return compile_sgd(dense_stack("sigmoid", normal(0.05)))


def broken_exploding():
    """Return the exploding set-up: 8 ReLU layers, weights drawn with std 1.0."""
    return compile_sgd(dense_stack("relu", normal(1.0)))


def broken_dead():
    """Return the dead-ReLU set-up: 8 ReLU layers with He weights, every bias starting at -3."""
    return compile_sgd(dense_stack("relu", "he_normal", bias=-3.0))


def broken_bn_model():
    """Return the BN set-up's model: 8 logistic layers, each Dense followed by BN (momentum 0.9)."""
    import keras

    from utils.models import build_mlp

    model = build_mlp(DEPTH, WIDTH, "sigmoid", batch_norm=True)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9  # forgets its start values within a few epochs
    return compile_sgd(model)


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
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", jit_compile=False)
    x, y = transfer_data().X_train, transfer_data().y_train
    model.fit(x[:10], y[:10], epochs=1, verbose=0)  # a quick smoke test that it runs
    for layer in model.layers[:-1]:
        layer.trainable = False  # keep the pretrained features
    return model


def broken_rnn():
    """Return the recurrent set-up: a ReLU SimpleRNN that learns to sum 20 numbers, trained with SGD."""
    return compile_rnn(sum_rnn("relu"))


def broken_mystery():
    """Return the mystery set-up: 8 ReLU layers, weights drawn with std 0.02, biases starting at -1."""
    return compile_sgd(dense_stack("relu", normal(0.02), bias=-1.0))


# ------------------------------------------------------------------------------------------------------------
# Their repairs (the solutions), and fixes that treat only a symptom
# ------------------------------------------------------------------------------------------------------------


def fixed_vanishing():
    """Return the repaired vanishing set-up: ReLU with He initialization."""
    return compile_sgd(dense_stack("relu", "he_normal"))


def fixed_exploding():
    """Return the repaired exploding set-up: the same ReLU stack, with He initialization (std √(2/fan_in))."""
    return compile_sgd(dense_stack("relu", "he_normal"))


def fixed_dead():
    """Return the repaired dead-ReLU set-up: biases start at 0."""
    return compile_sgd(dense_stack("relu", "he_normal", bias=0.0))


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

    copy = keras.models.clone_model(base)  # the architecture, with new weights...
    copy.set_weights(base.get_weights())  # ...then the pretrained values: the copy's variables are its own
    head = keras.layers.Dense(5, activation="softmax", name="head")
    model = keras.Sequential([keras.Input(shape=(64,)), *copy.layers[:-1], head])
    for layer in model.layers[:-1]:
        layer.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", jit_compile=False)
    return model  # compiled after freezing: fit traces its training function with these flags


def fixed_rnn():
    """Return the repaired recurrent set-up: the same RNN, its gradients clipped to global norm 1 (chapter 05)."""
    return compile_rnn(sum_rnn("relu"), global_clipnorm=1.0)


def fixed_mystery():
    """Return the repaired mystery set-up: He initialization and zero biases."""
    return compile_sgd(dense_stack("relu", "he_normal", bias=0.0))


def clipped_exploding():
    """Return a symptom-only fix of the exploding set-up: clip the gradients, keep the std 1.0 weights."""
    return compile_sgd(dense_stack("relu", normal(1.0)), global_clipnorm=1.0)


def slower_dead():
    """Return a symptom-only fix of the dead-ReLU set-up: a 10× lower learning rate, biases still at -3."""
    return compile_sgd(dense_stack("relu", "he_normal", bias=-3.0), learning_rate=LEARNING_RATE / 10)


def half_fixed_mystery():
    """Return half a fix of the mystery: biases at 0, weights still drawn with std 0.02."""
    return compile_sgd(dense_stack("relu", normal(0.02), bias=0.0))


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


@functools.cache
def digits():
    """Return the course's standardized digits splits (cached)."""
    from utils.data import load_digits_splits

    return load_digits_splits()


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


def _loss_function(model):
    import keras

    loss = getattr(model, "loss", None)
    if loss is None:
        raise ValueError("the model is not compiled: call model.compile(optimizer=..., loss=...) before training")
    return keras.losses.get(loss) if isinstance(loss, str) else loss


_TRAINERS: dict = {}  # key -> (model, epoch function): seeds of one version share one traced graph


def _epoch_function(model, step):
    """Return a tf.function that runs one epoch of steps in the graph (no Python per step: fast for tiny models)."""
    import tensorflow as tf

    variables = model.trainable_variables
    if step is None:
        loss_fn = _loss_function(model)

        def one_step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(loss_fn(y, model(x, training=True)))
            grads = tape.gradient(loss, variables)
            model.optimizer.apply_gradients(zip(grads, variables, strict=True))
            return tf.cast(loss, tf.float32), tf.cast(tf.linalg.global_norm(grads), tf.float32)

    else:

        def one_step(x, y):
            return tf.cast(step(model, x, y), tf.float32), tf.constant(np.nan, tf.float32)

    @tf.function
    def run_epoch(X, Y, order, X_valid):
        losses = tf.TensorArray(tf.float32, size=tf.shape(order)[0])
        norms = tf.TensorArray(tf.float32, size=tf.shape(order)[0])
        for i in tf.range(tf.shape(order)[0]):
            loss, norm = one_step(tf.gather(X, order[i]), tf.gather(Y, order[i]))
            losses = losses.write(i, loss)
            norms = norms.write(i, norm)
        return losses.stack(), norms.stack(), model(X_valid, training=False)  # validation in the graph: cheaper

    return run_epoch


def _signature(model) -> tuple:
    """Return what must match for two models to share a traced training graph: weight shapes, optimizer, loss."""
    config = {k: v for k, v in model.optimizer.get_config().items() if k != "name"}
    return tuple(tuple(w.shape) for w in model.weights), repr(sorted(config.items())), repr(model.loss)


def _trainer(model, step, key):
    """Return (the model to train, its epoch function): a cached graph when ``key`` was traced for the same shapes.

    A cached model gets ``model``'s weights and a zeroed optimizer state: the same run as training ``model`` itself.
    """
    cached = _TRAINERS.get(key)
    if key is not None and cached is not None and _signature(cached[0]) == _signature(model):
        target = cached[0]
        target.set_weights(model.get_weights())
        for variable in target.optimizer.variables:
            if "learning_rate" not in variable.name:  # iterations and slots restart; the learning rate stays
                variable.assign(np.zeros(variable.shape, variable.dtype))
        return cached
    model.optimizer.build(model.trainable_variables)
    trainer = (model, _epoch_function(model, step))
    if key is not None:
        _TRAINERS[key] = trainer
    return trainer


def train(setup: Setup, model, data: Data, *, seed: int, epochs: int | None = None, step=None, key=None) -> dict:
    """Train ``model`` with its optimizer, shuffled mini-batches of 32; return per-epoch loss, score, gradient norm.

    Parameters
    ----------
    setup : the set-up (gives the score and the number of epochs).
    model : a compiled Keras model; trained in place.
    data : training and validation arrays.
    seed : the shuffling seed.
    epochs : defaults to the set-up's.
    step : a train step ``step(model, x, y) -> loss`` to use instead of the standard one (the BN set-up).
    key : runs with the same key (one version of one set-up, other seeds) reuse one traced graph.

    Stops at the first epoch whose loss is not finite (the rest is NaN).
    """
    epochs = epochs or setup.epochs
    trained, run_epoch = _trainer(model, step, key)
    rng = np.random.default_rng(seed)
    n = len(data.y_train) // BATCH_SIZE * BATCH_SIZE
    history = {k: np.full(epochs, np.nan) for k in ("loss", "score", "grad_norm")}
    history["grad_steps"] = np.full((epochs, n // BATCH_SIZE), np.nan)
    for epoch in range(epochs):
        order = rng.permutation(len(data.y_train))[:n].reshape(-1, BATCH_SIZE).astype(np.int32)
        losses, norms, out = run_epoch(data.X_train, data.y_train, order, data.X_valid)
        history["loss"][epoch] = np.mean(losses.numpy(), dtype=np.float64)
        history["grad_norm"][epoch] = np.max(norms.numpy())
        history["grad_steps"][epoch] = norms.numpy()
        if not np.isfinite(history["loss"][epoch]):
            break
        history["score"][epoch] = score_outputs(setup, out.numpy(), data)
    if trained is not model:  # hand the result back to the caller's model, optimizer step count included
        model.set_weights(trained.get_weights())
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(trained.optimizer.iterations)
    return history


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
    """Return the weights of a 3×64 ReLU net trained on digits 0-4 (the base the transfer set-up reuses)."""
    from utils.course import seed_everything

    seed_everything(seed)
    base = compile_sgd(dense_stack("relu", "he_normal", depth=3, n_classes=5), learning_rate=0.1)
    train(Setup("base", "", (), "", "dense", None, None, epochs=5), base, task_a_valid(), seed=seed)
    return tuple(w.copy() for w in base.get_weights())


def base_model(seed: int):
    """Return a fresh copy of the pretrained base for ``seed`` (its layers are reused, so never share one)."""
    base = dense_stack("relu", "he_normal", depth=3, n_classes=5)
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
# Judging a learner's fix (the compute part of the chapter 08 checks)
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Assessment:
    """What running a learner's fix showed: ``problem`` is None when it trains, else a key, with the evidence."""

    problem: str | None
    detail: str = ""
    run: Run | None = None


def stats_batch(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the batch the doctor examines for set-up ``name``."""
    data = data_for(SETUPS[name])
    return data.X_train[:STATS_BATCH], data.y_train[:STATS_BATCH]


def model_problem(name: str, model) -> Assessment | None:
    """Return why ``model`` cannot stand in for set-up ``name``'s model (wrong type, shape, depth), or None."""
    import keras

    if not isinstance(model, keras.Model):
        return Assessment("not_a_model", f"it returned a {type(model).__name__}, not a Keras model")
    if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
        return Assessment("not_compiled", "the model is not compiled")
    data = data_for(SETUPS[name])
    try:
        out = model(data.X_train[:2], training=False)
    except Exception as exc:  # noqa: BLE001 (a learner's model that cannot take the data: say so)
        return Assessment("wrong_shape", f"it cannot take the set-up's inputs of shape {data.X_train.shape[1:]}: {exc}")
    expected = (2, 1) if name == "rnn" else (2, 10)
    if tuple(out.shape) != expected:
        return Assessment("wrong_shape", f"its output has shape {tuple(out.shape)}, expected {expected}")
    if name != "rnn":
        hidden = len([layer for layer in model.layers if hasattr(layer, "kernel")]) - 1
        if hidden < DEPTH:
            return Assessment("too_shallow", f"it has {hidden} hidden layers with weights, the set-up has {DEPTH}")
    return None


def symptom_only(name: str, model) -> Assessment | None:
    """Return an Assessment when ``model`` treats the symptom and leaves the cause (the doctor still finds it)."""
    from utils.doctor import _clips, examine

    keys = {f.key: f for f in examine(model, *stats_batch(name))}
    if name == "exploding" and _clips(model) and "exploding" in keys:
        return Assessment("clipping_only", keys["exploding"].evidence)
    learning_rate = float(np.asarray(model.optimizer.learning_rate))
    if name in ("dead", "mystery") and "dead" in keys and learning_rate < LEARNING_RATE:
        return Assessment("lower_lr_only", keys["dead"].evidence)
    return None


def remaining_problem(name: str, model) -> str:
    """Return the evidence of the first problem the doctor still finds in ``model`` (fresh), or an empty string."""
    from utils.doctor import examine

    findings = examine(model, *stats_batch(name))
    return findings[0].evidence if findings else ""


def _first_failure(name: str, answer: Callable, seeds) -> Run | None:
    """Run a learner's version on each seed; return the first run that misses the target, or None."""
    for seed in seeds:
        run = run_setup(name, "yours", seed, answer=answer)
        if fails(SETUPS[name], run):
            return run
    return None


def assess_model_fix(name: str, builder: Callable, seeds=SEEDS) -> Assessment:
    """Run a learner's model builder for set-up ``name`` on each seed: does it train, or what still looks wrong?"""
    from utils.course import seed_everything

    seed_everything(seeds[0])
    fresh = builder()
    problem = model_problem(name, fresh) or symptom_only(name, fresh)
    if problem:
        return problem
    failed = _first_failure(name, builder, seeds)
    if failed is not None:
        return Assessment("not_trained", remaining_problem(name, fresh), failed)
    return Assessment(None)


def _score_with_batch_statistics(model) -> float:
    """Return the BN set-up's validation accuracy with BN in training mode (batch statistics), state restored."""
    data = data_for(SETUPS["bn_mode"])
    saved = [v.numpy().copy() for v in model.non_trainable_variables]  # a training-mode call moves the averages
    try:
        return score_outputs(SETUPS["bn_mode"], np.asarray(model(data.X_valid, training=True)), data)
    finally:
        for variable, value in zip(model.non_trainable_variables, saved, strict=True):
            variable.assign(value)


def _bn_momentum(model) -> float:
    import keras

    momenta = [layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    return float(max(momenta)) if momenta else float("nan")


def assess_step_fix(step: Callable, seeds=SEEDS) -> Assessment:
    """Run the BN set-up with a learner's train step on each seed: does it train, are the moving averages updated?

    A step that trains BN in training mode but misses the target only at inference, because BN's moving averages
    lag behind the weights, is told so (``bn_lagging``), not that it "does not train".
    """
    from utils.doctor import examine

    first = run_setup("bn_mode", "yours", seeds[0], answer=step)
    findings = {f.key: f for f in examine(first.model, *stats_batch("bn_mode"))}
    if "bn_mode" in findings:
        return Assessment("bn_not_updated", findings["bn_mode"].evidence, first)
    failed = _first_failure("bn_mode", step, seeds)
    if failed is None:
        return Assessment(None)
    batch_score = _score_with_batch_statistics(failed.model)
    if not failed.diverged() and batch_score >= DIGITS_TARGET:
        momentum = _bn_momentum(failed.model)
        detail = (
            f"with batch statistics (training=True) it reaches {batch_score:.2f} on seed {failed.seed}, with its "
            f"moving averages (training=False) {failed.judged:.2f}; at momentum {momentum:g} the averages remember "
            f"about the last {1 / (1 - momentum):.0f} steps, and the weights moved faster than that"
        )
        return Assessment("bn_lagging", detail, failed)
    return Assessment("not_trained", next(iter(findings.values())).evidence if findings else "", failed)


def _shares_layers(run: Run) -> bool:
    """Return True when the learner's model uses the base model's own layers (not copies)."""
    base_layers = {id(layer) for layer in run.base.layers}
    return any(id(layer) in base_layers for layer in run.model.layers)


def assess_transfer_fix(procedure: Callable, seeds=SEEDS) -> Assessment:
    """Run the transfer set-up with a learner's procedure: frozen layers unchanged, digits 0-4 kept, 5-9 learned?"""
    for seed in seeds:
        run = run_setup("transfer", "yours", seed, answer=procedure)
        shared = _shares_layers(run)
        frozen = [layer for layer in run.model.layers if not layer.trainable and layer.weights]
        if not frozen:
            where = "the base model that shares them" if shared else "the pretrained features (your copy of them)"
            return Assessment(
                "nothing_frozen", f"no layer of the model has trainable=False, so fit changes {where}", run
            )
        if run.moved_in_fit.size and np.max(run.moved_in_fit) > 0:
            moved = f"fit moved the reused layers by up to {100 * np.max(run.moved_in_fit):.0f}% of their norm"
            return Assessment("frozen_moved", moved, run)
        if run.moved_before.size and np.max(run.moved_before) > 0:
            moved = (
                f"your function itself moved the reused layers by up to {100 * np.max(run.moved_before):.0f}% of "
                "their norm before returning the model (a fit before freezing)"
                + (", and the base model, which shares them, with them" if shared else "")
            )
            return Assessment("trained_before_freezing", moved, run)
        if fails(SETUPS["transfer"], run):
            return Assessment("not_trained", f"the base model's digits 0-4 accuracy fell to {run.final:.2f}", run)
        if not np.max(run.other[-JUDGED_EPOCHS:]) >= TRANSFER_NEW_TASK:
            return Assessment("head_not_learning", f"digits 5-9 accuracy {run.other[-1]:.2f}", run)
    return Assessment(None)
