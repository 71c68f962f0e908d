"""Transfer learning on the digits (chapter 06): tasks A and B, reuse/freeze/cache helpers, and seed sweeps.

Task A is digits 0-4 (all its labels), task B digits 5-9 with only a few labels per class (``utils.data``'s split).
The Keras helpers (``reuse_layers``, ``freeze``, ``cached_features``...) are what the chapter teaches. The seed
sweeps use :class:`NumpyMLP`, a float64 numpy twin of the same dense networks trained with the same rule as
Keras' ``SGD(momentum=...)`` on the same batches: about a hundred times faster than ``fit`` at this size, so that
every number over seeds is computed in the notebook, and more stable across CPUs than float32 (the chapter checks
that the twin and Keras agree). A frozen lower part is run once per training (its outputs cached), as taught.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from utils.data import Splits, transfer_tasks

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


def build_task_model(depth: int = DEPTH, width: int = WIDTH, *, batch_norm: bool = False, name: str | None = None):
    """Return the task-A architecture: ``depth`` hidden ReLU layers of ``width`` units, a 5-way softmax output."""
    from utils.models import build_mlp

    return build_mlp(depth, width, "relu", n_classes=N_CLASSES, batch_norm=batch_norm, name=name)


def copy_model(model):
    """Return an independent copy of ``model``: ``clone_model`` (new random weights), then ``set_weights``."""
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def hidden_layers(model) -> list:
    """Return the layers below the output layer (Dense, and BN/Activation where the model has them)."""
    return model.layers[:-1]


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

    layers = hidden_layers(model)
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


def compile_sgd(model, learning_rate: float = LEARNING_RATE, momentum: float = MOMENTUM):
    """Compile for integer labels with ``SGD(learning_rate, momentum)``, no XLA (the chapter's optimizer)."""
    import keras

    from utils.models import compile_classifier

    return compile_classifier(model, keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum))


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
# The numpy twin: the same dense ReLU networks, several seeds at once, trained like Keras' SGD with momentum
# ------------------------------------------------------------------------------------------------------------


def glorot_uniform(rng: np.random.Generator, n_seeds: int, fan_in: int, fan_out: int) -> np.ndarray:
    """Return ``n_seeds`` Glorot-uniform kernels (Keras' default), shape (n_seeds, fan_in, fan_out)."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (n_seeds, fan_in, fan_out))


@dataclass
class NumpyMLP:
    """Dense ReLU layers and a softmax output, one set of weights per seed (axis 0), in float64.

    ``kernels[i]`` has shape (n_seeds, fan_in, fan_out), ``biases[i]`` (n_seeds, fan_out); the last layer is the
    output. Layers below ``n_frozen`` are not updated, and their outputs are computed once per training (cached).
    """

    kernels: list[np.ndarray]
    biases: list[np.ndarray]
    n_frozen: int = 0
    velocity: list = field(default_factory=list, repr=False)

    @classmethod
    def random(cls, sizes: list[int], n_seeds: int, rng: np.random.Generator) -> NumpyMLP:
        """Return a network with layer sizes ``sizes`` (inputs first), Glorot kernels and zero biases."""
        kernels = [glorot_uniform(rng, n_seeds, a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        return cls(kernels, [np.zeros((n_seeds, b)) for b in sizes[1:]])

    @classmethod
    def from_keras(cls, model, n_seeds: int = 1) -> NumpyMLP:
        """Return the twin of a Keras MLP of Dense layers, or of its ``get_weights()``, repeated for ``n_seeds``."""
        weights = model if isinstance(model, list) else model.get_weights()
        kernels = [np.repeat(w[None].astype(np.float64), n_seeds, axis=0) for w in weights[::2]]
        return cls(kernels, [np.repeat(b[None].astype(np.float64), n_seeds, axis=0) for b in weights[1::2]])

    def keras_weights(self, seed_index: int = 0) -> list[np.ndarray]:
        """Return one seed's weights in Keras' order (kernel, bias, kernel, bias, ...), as float32."""
        pairs = zip(self.kernels, self.biases, strict=True)
        return [w[seed_index].astype(np.float32) for pair in pairs for w in pair]

    def forward(self, X: np.ndarray, start: int = 0) -> list[np.ndarray]:
        """Return the inputs of layers ``start``.. and the output probabilities; ``X`` feeds layer ``start``."""
        values = [X]
        for i in range(start, len(self.kernels)):
            z = values[-1] @ self.kernels[i] + self.biases[i][:, None, :]
            values.append(np.maximum(z, 0.0) if i < len(self.kernels) - 1 else _softmax(z))
        return values

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Return class probabilities, shape (n_seeds, n, classes), for ``X`` of shape (n, f) or (n_seeds, n, f)."""
        return self.forward(_per_seed(X, self.n_seeds))[-1]

    @property
    def n_seeds(self) -> int:
        return self.kernels[0].shape[0]

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the accuracy on ``(X, y)`` for each seed."""
        return np.mean(np.argmax(self.predict(X), axis=-1) == y, axis=-1)

    def fit(
        self, X, y, *, epochs: int, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, momentum=MOMENTUM, cache=True
    ):
        """Train in place like Keras' ``fit(shuffle=False)`` with ``SGD(learning_rate, momentum)``; return self.

        Parameters
        ----------
        X, y : inputs (n, f) or (n_seeds, n, f) and integer labels (n,) or (n_seeds, n).
        epochs, batch_size : passes over the data, in the same batch order each time.
        learning_rate, momentum : Keras' rule, velocity = momentum · velocity − learning_rate · gradient.
        cache : run the frozen layers once, before training (False: at every step, as an uncached model does).
        """
        X, y = _per_seed(X, self.n_seeds), np.broadcast_to(y, X.shape[:2] if X.ndim == 3 else (self.n_seeds, len(y)))
        features = self.forward(X)[self.n_frozen] if cache else X  # cached: the frozen part runs once
        if len(self.velocity) != len(self.kernels) * 2:
            self.velocity = [np.zeros_like(p) for pair in zip(self.kernels, self.biases, strict=True) for p in pair]
        for _ in range(epochs):
            for start in range(0, features.shape[1], batch_size):
                batch = slice(start, start + batch_size)
                self._step(features[:, batch], y[:, batch], learning_rate, momentum, cache)
        return self

    def _step(self, inputs, y, learning_rate, momentum, cached: bool) -> None:
        values = self.forward(inputs, start=self.n_frozen) if cached else self.forward(inputs)[self.n_frozen :]
        delta = values[-1].copy()  # d(mean cross-entropy)/d(logits) = (softmax - one-hot) / n
        np.put_along_axis(delta, y[..., None], np.take_along_axis(delta, y[..., None], axis=-1) - 1.0, axis=-1)
        delta /= y.shape[1]
        for i in range(len(self.kernels) - 1, self.n_frozen - 1, -1):
            inputs = values[i - self.n_frozen]
            grads = (np.swapaxes(inputs, 1, 2) @ delta, delta.sum(axis=1))
            if i > self.n_frozen:
                delta = (delta @ np.swapaxes(self.kernels[i], 1, 2)) * (inputs > 0)
            for j, (param, grad) in enumerate(zip((self.kernels[i], self.biases[i]), grads, strict=True)):
                v = self.velocity[2 * i + j]
                v *= momentum
                v -= learning_rate * grad
                param += v


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _per_seed(X: np.ndarray, n_seeds: int) -> np.ndarray:
    return X if X.ndim == 3 else np.broadcast_to(X, (n_seeds, *X.shape))


# ------------------------------------------------------------------------------------------------------------
# Seed sweeps
# ------------------------------------------------------------------------------------------------------------


def pretrain_a(seeds=SEEDS, *, epochs: int = PRETRAIN_EPOCHS) -> NumpyMLP:
    """Return task-A networks (one per seed, numpy twin), trained on all of task A's training images."""
    task_a, _ = tasks()
    net = NumpyMLP.random([task_a.n_features] + [WIDTH] * DEPTH + [N_CLASSES], len(seeds), _rng(seeds, "A"))
    return net.fit(task_a.X_train, task_a.y_train, epochs=epochs)


def transfer_b(
    pretrained: NumpyMLP | None,
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
    net = NumpyMLP.random([task_b.n_features] + [WIDTH] * DEPTH + [N_CLASSES], len(seeds), _rng(seeds, "B"))
    for i in range(n_reused):
        net.kernels[i], net.biases[i] = pretrained.kernels[i].copy(), pretrained.biases[i].copy()
    net.n_frozen = n_frozen
    X, y = zip(*(few_labels(task_b, per_class, seed) for seed in seeds), strict=True)
    X, y, epochs = np.stack(X), np.stack(y), epochs_for(len(y[0]), steps)
    net.fit(X, y, epochs=epochs)
    if unfreeze:
        net.n_frozen, net.velocity = n_frozen - unfreeze, []
        net.fit(X, y, epochs=epochs, learning_rate=LEARNING_RATE / 10)
    return net.accuracy(task_b.X_test, task_b.y_test)


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


def sweep(seeds=SEEDS, labels_per_class=LABELS_PER_CLASS, *, pretrained: NumpyMLP | None = None) -> SweepResults:
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
