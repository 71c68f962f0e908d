"""Batch normalization in numpy with Keras' conventions: forward (both modes), moving averages, backward.

Taught in chapter 04. Checked against ``keras.layers.BatchNormalization`` and finite differences in
``tests/test_batchnorm.py``. The conventions, read in Keras 3.15's source
(``keras/src/layers/normalization/batch_normalization.py``) and asserted in chapter 04:

- training mode normalizes with the batch mean and the *biased* batch variance (divide by n);
- inference mode normalizes with the moving mean and moving variance instead;
- ``y = gamma * (x - mean) / sqrt(variance + epsilon) + beta``, with epsilon = 1e-3 inside the square root;
- each training-mode call updates ``moving = momentum * moving + (1 - momentum) * batch_statistic``,
  momentum = 0.99 (the weight of the *old* average; PyTorch's ``momentum=0.1`` weighs the new batch),
  and the moving variance is fed the same biased batch variance;
- the moving mean starts at 0 and the moving variance at 1; gamma starts at 1 and beta at 0.
- a call without ``training`` runs in inference mode, and so does a frozen layer (``trainable = False``),
  even when called with ``training=True``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

MOMENTUM = 0.99  # keras.layers.BatchNormalization's default: the weight of the old moving average
EPSILON = 1e-3  # Keras' default, added to the variance inside the square root


# ------------------------------------------------------------------------------------------------------------
# The maths, one small function per step
# ------------------------------------------------------------------------------------------------------------


def batch_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-feature mean and *biased* variance (divide by n) of a batch ``x`` (batch, features)."""
    mean = x.mean(axis=0)
    return mean, np.mean((x - mean) ** 2, axis=0)


def normalize(x, mean, variance, gamma, beta, epsilon: float = EPSILON) -> np.ndarray:
    """Return ``gamma * (x - mean) / sqrt(variance + epsilon) + beta``."""
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def update_moving(moving, batch_value, momentum: float = MOMENTUM):
    """Return the new moving average, Keras' way: ``momentum * moving + (1 - momentum) * batch_value``."""
    return momentum * moving + (1.0 - momentum) * batch_value


@dataclass
class BNCache:
    """What the backward pass needs from the forward pass."""

    x_hat: np.ndarray  # the normalized input, (x - mean) / sqrt(variance + epsilon)
    inv_std: np.ndarray  # 1 / sqrt(variance + epsilon), per feature
    gamma: np.ndarray
    training: bool  # in inference mode mean and variance are constants, so the backward pass is simpler


@dataclass
class BNStep:
    """One forward call: the output, the (possibly updated) moving statistics and the cache for backward."""

    y: np.ndarray
    moving_mean: np.ndarray
    moving_variance: np.ndarray
    cache: BNCache


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    moving_mean: np.ndarray,
    moving_variance: np.ndarray,
    *,
    training: bool,
    momentum: float = MOMENTUM,
    epsilon: float = EPSILON,
) -> BNStep:
    """Run batch normalization on ``x`` (batch, features) in training or inference mode.

    Parameters
    ----------
    x : the batch, one row per example.
    gamma, beta : the learned scale and shift, one per feature.
    moving_mean, moving_variance : the estimated statistics used at inference (not changed in place).
    training : True: normalize with the batch statistics and update the moving ones; False: use the moving.
    momentum, epsilon : Keras' defaults, 0.99 and 1e-3.

    Returns
    -------
    BNStep with the output, the new moving statistics (the old ones in inference mode) and the cache.
    """
    if training:
        mean, variance = batch_moments(x)
        moving_mean = update_moving(moving_mean, mean, momentum)
        moving_variance = update_moving(moving_variance, variance, momentum)
    else:
        mean, variance = moving_mean, moving_variance
    inv_std = 1.0 / np.sqrt(variance + epsilon)
    x_hat = (x - mean) * inv_std
    return BNStep(gamma * x_hat + beta, moving_mean, moving_variance, BNCache(x_hat, inv_std, gamma, training))


def batchnorm_backward(dy: np.ndarray, cache: BNCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(dx, dgamma, dbeta)`` from the upstream gradient ``dy`` and the forward pass's cache.

    In training mode every output depends on every example of the batch through its mean and variance:
    ``dx = gamma * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat))``, means over the batch.
    """
    dgamma = np.sum(dy * cache.x_hat, axis=0)
    dbeta = np.sum(dy, axis=0)
    if not cache.training:
        return dy * cache.gamma * cache.inv_std, dgamma, dbeta
    dx = cache.gamma * cache.inv_std * (dy - dy.mean(axis=0) - cache.x_hat * np.mean(dy * cache.x_hat, axis=0))
    return dx, dgamma, dbeta


class BatchNorm:
    """A numpy batch-normalization layer with Keras' state, defaults and update rule (for teaching and tests).

    ``layer(x, training=True)`` normalizes with the batch statistics and updates the moving averages;
    ``layer(x)`` (training=False, Keras' default for a direct call) uses the moving averages.
    ``layer.backward(dy)`` returns dx and stores ``dgamma`` and ``dbeta``.
    """

    def __init__(self, units: int, *, momentum: float = MOMENTUM, epsilon: float = EPSILON, dtype=np.float64):
        self.momentum, self.epsilon = momentum, epsilon
        self.gamma, self.beta = np.ones(units, dtype), np.zeros(units, dtype)  # learned by gradient descent
        self.moving_mean, self.moving_variance = np.zeros(units, dtype), np.ones(units, dtype)  # estimated
        self._cache: BNCache | None = None
        self.dgamma = self.dbeta = None

    @property
    def trainable_count(self) -> int:
        return self.gamma.size + self.beta.size

    @property
    def non_trainable_count(self) -> int:
        return self.moving_mean.size + self.moving_variance.size

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        step = batchnorm_forward(
            x,
            self.gamma,
            self.beta,
            self.moving_mean,
            self.moving_variance,
            training=training,
            momentum=self.momentum,
            epsilon=self.epsilon,
        )
        self.moving_mean, self.moving_variance, self._cache = (
            step.moving_mean,
            step.moving_variance,
            step.cache,
        )
        return step.y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Return dL/dx for the last forward call; store dL/dgamma and dL/dbeta on the layer."""
        if self._cache is None:
            raise RuntimeError("call the layer on a batch before its backward pass")
        dx, self.dgamma, self.dbeta = batchnorm_backward(dy, self._cache)
        return dx


# ------------------------------------------------------------------------------------------------------------
# Gradient check (float64 finite differences)
# ------------------------------------------------------------------------------------------------------------


def relative_error(a, b) -> float:
    """Return ``‖a − b‖ / (‖a‖ + ‖b‖)`` (0 when both are 0); below ~1e-7 in float64: the gradients agree."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Return the central finite-difference gradient of the scalar function ``f`` at ``x`` (float64)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def gradient_check(
    backward: Callable | None = None, *, n: int = 8, features: int = 5, training: bool = True, seed: int = 0
) -> dict[str, float]:
    """Return the relative errors of ``backward``'s dx, dgamma, dbeta against finite differences (float64).

    The loss is ``sum(dy * y)`` for a fixed random ``dy``, so its gradient for y is exactly ``dy``.
    ``backward(dy, x, gamma, epsilon)`` must return ``(dx, dgamma, dbeta)``; default: this module's.
    """
    backward = backward or _module_backward(training)
    rng = np.random.default_rng(seed)
    x = rng.normal(1.0, 2.0, (n, features))
    gamma, beta, dy = (
        rng.normal(1, 0.5, features),
        rng.normal(0, 0.5, features),
        rng.standard_normal((n, features)),
    )
    moving = rng.normal(0.5, 0.5, features), rng.uniform(0.5, 3.0, features)

    def loss(x_, gamma_, beta_):
        return float(np.sum(dy * batchnorm_forward(x_, gamma_, beta_, *moving, training=training).y))

    numeric = (
        numerical_gradient(lambda v: loss(v, gamma, beta), x),
        numerical_gradient(lambda v: loss(x, v, beta), gamma),
        numerical_gradient(lambda v: loss(x, gamma, v), beta),
    )
    analytic = backward(dy, x, gamma, EPSILON) if training else backward(dy, x, gamma, EPSILON, *moving)
    return {name: relative_error(a, b) for name, a, b in zip(("dx", "dgamma", "dbeta"), analytic, numeric, strict=True)}


def _module_backward(training: bool) -> Callable:
    def backward(dy, x, gamma, epsilon, *moving):
        ones = np.ones(x.shape[1])
        moving = moving or (0 * ones, ones)
        step = batchnorm_forward(x, gamma, 0 * gamma, *moving, training=training, epsilon=epsilon)
        return batchnorm_backward(dy, step.cache)

    return backward


# ------------------------------------------------------------------------------------------------------------
# Typical mistakes, as step functions: the chapter shows that matching Keras catches each one
# ------------------------------------------------------------------------------------------------------------

MISTAKES = {
    "unbiased batch variance": "divide by n - 1 (np.var(x, ddof=1), PyTorch's running variance) instead of n",
    "epsilon outside the square root": "sqrt(variance) + epsilon instead of sqrt(variance + epsilon)",
    "momentum applied the PyTorch way": "momentum * batch + (1 - momentum) * moving: it weighs the new batch",
    "no running update": "the moving averages never change",
    "batch statistics at inference": "inference mode normalizes with the batch's own statistics",
}


def mistaken_step(mistake: str, momentum: float = MOMENTUM, epsilon: float = EPSILON) -> Callable:
    """Return a BN step with one typical mistake (the signature of :func:`run_numpy`'s ``step``).

    ``mistake`` is a key of :data:`MISTAKES`.
    """
    if mistake not in MISTAKES:
        raise ValueError(f"unknown mistake {mistake!r}; choose one of {list(MISTAKES)}")

    def step(x, gamma, beta, moving_mean, moving_variance, training):
        mean, variance = x.mean(axis=0), x.var(axis=0, ddof=1 if mistake == "unbiased batch variance" else 0)
        if training:
            weight = 1 - momentum if mistake == "momentum applied the PyTorch way" else momentum
            if mistake != "no running update":
                moving_mean = weight * moving_mean + (1 - weight) * mean
                moving_variance = weight * moving_variance + (1 - weight) * variance
        elif mistake != "batch statistics at inference":
            mean, variance = moving_mean, moving_variance
        if mistake == "epsilon outside the square root":
            return gamma * (x - mean) / (np.sqrt(variance) + epsilon) + beta, moving_mean, moving_variance
        return normalize(x, mean, variance, gamma, beta, epsilon), moving_mean, moving_variance

    return step


# ------------------------------------------------------------------------------------------------------------
# Several steps of a layer, in numpy or in Keras, with the same inputs: for matching the two
# ------------------------------------------------------------------------------------------------------------


@dataclass
class BNRun:
    """A BN layer's outputs over several training steps, its moving statistics, then one inference output."""

    train_outputs: list[np.ndarray]
    moving_mean: np.ndarray
    moving_variance: np.ndarray
    inference_output: np.ndarray

    def max_difference(self, other: BNRun) -> dict[str, float]:
        """Return the largest absolute difference with ``other``, per quantity."""
        return {
            "training outputs": max(
                float(np.max(np.abs(a - b))) for a, b in zip(self.train_outputs, other.train_outputs, strict=True)
            ),
            "moving mean": float(np.max(np.abs(self.moving_mean - other.moving_mean))),
            "moving variance": float(np.max(np.abs(self.moving_variance - other.moving_variance))),
            "inference output": float(np.max(np.abs(self.inference_output - other.inference_output))),
        }


def make_batches(n_steps: int = 20, batch_size: int = 16, features: int = 4, seed: int = 0) -> tuple[list, np.ndarray]:
    """Return ``n_steps`` float32 batches from a distribution far from (0, 1), and one held-out batch.

    Means around 3 and stds around 2: the moving averages (which start at 0 and 1) visibly move.
    """
    rng = np.random.default_rng(seed)
    loc, scale = rng.normal(3.0, 1.0, features), rng.uniform(1.0, 3.0, features)
    draw = lambda: (loc + scale * rng.standard_normal((batch_size, features))).astype(np.float32)  # noqa: E731
    return [draw() for _ in range(n_steps)], draw()


def run_numpy(batches: Sequence[np.ndarray], x_test: np.ndarray, gamma=None, beta=None, *, step=None) -> BNRun:
    """Run a BN layer over ``batches`` in training mode, then on ``x_test`` in inference mode (numpy).

    ``step(x, gamma, beta, moving_mean, moving_variance, training)`` returns
    ``(y, moving_mean, moving_variance)``;
    default: this module's :func:`batchnorm_forward` with Keras' momentum and epsilon.
    """
    features = batches[0].shape[1]
    gamma = np.ones(features) if gamma is None else np.asarray(gamma, np.float64)
    beta = np.zeros(features) if beta is None else np.asarray(beta, np.float64)
    step = step or _module_step
    mean, var, outputs = np.zeros(features), np.ones(features), []
    for x in batches:
        y, mean, var = step(np.asarray(x, np.float64), gamma, beta, mean, var, True)
        outputs.append(np.asarray(y))
    y_test, _, _ = step(np.asarray(x_test, np.float64), gamma, beta, mean, var, False)
    return BNRun(outputs, np.asarray(mean), np.asarray(var), np.asarray(y_test))


def _module_step(x, gamma, beta, moving_mean, moving_variance, training):
    out = batchnorm_forward(x, gamma, beta, moving_mean, moving_variance, training=training)
    return out.y, out.moving_mean, out.moving_variance


def run_keras(batches: Sequence[np.ndarray], x_test: np.ndarray, gamma=None, beta=None, **layer_kwargs) -> BNRun:
    """Run ``keras.layers.BatchNormalization`` (defaults unless ``layer_kwargs``) like :func:`run_numpy`."""
    import keras

    layer = keras.layers.BatchNormalization(**layer_kwargs)
    layer.build((None, batches[0].shape[1]))
    if gamma is not None:
        layer.gamma.assign(np.asarray(gamma, np.float32))
    if beta is not None:
        layer.beta.assign(np.asarray(beta, np.float32))
    outputs = [np.asarray(layer(x, training=True)) for x in batches]
    y_test = np.asarray(layer(x_test, training=False))
    return BNRun(outputs, layer.moving_mean.numpy(), layer.moving_variance.numpy(), y_test)


# ------------------------------------------------------------------------------------------------------------
# Models for the chapter's experiments
# ------------------------------------------------------------------------------------------------------------


def batched_accuracy(model, X: np.ndarray, y: np.ndarray, *, batch_size: int, training: bool) -> float:
    """Return the accuracy of ``model`` on ``(X, y)`` predicted batch by batch, in training or inference mode.

    Inference mode gives the same answer for any batch size; training mode normalizes each batch with its own
    statistics. Keras also updates the moving averages in training mode: this function restores them.
    """
    saved = [v.numpy() for v in model.non_trainable_variables]  # training-mode calls would update these
    starts = range(0, len(X), batch_size)
    predict = _compiled_call(model, training, X.shape[1]) if len(starts) > 20 else lambda x: model(x, training=training)
    correct = 0
    for start in starts:
        probs = np.asarray(predict(X[start : start + batch_size]))
        correct += int(np.sum(np.argmax(probs, axis=1) == y[start : start + batch_size]))
    for variable, value in zip(model.non_trainable_variables, saved, strict=True):
        variable.assign(value)
    return correct / len(X)


_COMPILED_CALLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled_call(model, training: bool, n_features: int):
    """Return ``x -> model(x, training=training)`` as a tf.function traced once per model and mode.

    An eager Keras call costs several ms; many small batches add up, a traced call is ~10x cheaper.
    """
    import tensorflow as tf

    calls = _COMPILED_CALLS.setdefault(model, {})
    if training not in calls:
        spec = [tf.TensorSpec((None, n_features), tf.float32)]
        calls[training] = tf.function(lambda x: model(x, training=training), input_signature=spec)
    return calls[training]


# ------------------------------------------------------------------------------------------------------------
# The explorer: how the moving averages track the true statistics of a unit during training
# ------------------------------------------------------------------------------------------------------------

DIGITS_TRAIN_SIZE = 1257  # len(load_digits_splits().y_train): steps per epoch = ceil(1257 / batch size)
EXPLORER_TRUE_MEAN, EXPLORER_TRUE_STD = (
    4.0,
    2.0,
)  # a pre-activation far from the moving averages' start values 0 and 1


@dataclass
class RunningStats:
    """One simulated training run of one BN unit: per step, the true, batch and moving statistics."""

    momentum: float
    batch_size: int
    steps_per_epoch: int
    true_mean: np.ndarray
    true_variance: np.ndarray
    batch_mean: np.ndarray
    batch_variance: np.ndarray
    moving_mean: np.ndarray
    moving_variance: np.ndarray

    @property
    def steps(self) -> np.ndarray:
        return np.arange(1, len(self.true_mean) + 1)

    def inference_shift(self) -> tuple[float, float]:
        """Return the mean and std that the unit's *inference-mode* output has at the end (ideal: 0 and ~1).

        A unit with the true final statistics, normalized with the final moving averages (gamma 1, beta 0).
        """
        scale = np.sqrt(self.moving_variance[-1] + EPSILON)
        return float((self.true_mean[-1] - self.moving_mean[-1]) / scale), float(
            np.sqrt(self.true_variance[-1]) / scale
        )


def compute_running_stats(
    momentum: float = MOMENTUM,
    batch_size: int = 32,
    epochs: float = 5,
    drift: float = 0.0,
    *,
    n_train: int = DIGITS_TRAIN_SIZE,
    seed: int = 0,
) -> RunningStats:
    """Simulate the moving mean and variance of one BN unit over ``epochs`` of training with minibatches.

    The unit's true pre-activation is N(mean, std²), mean 4 and std 2 at the start; ``drift`` moves the true
    mean linearly by that many stds over the run (the layers below keep learning). Each step draws the
    batch mean and biased batch variance of ``batch_size`` Gaussian values exactly (mean ~ N(μ, σ²/B),
    variance ~ σ² χ²(B−1)/B), then applies Keras' update from the start values 0 and 1. Fast: a few ms.

    Parameters
    ----------
    momentum : weight of the old average (Keras: 0.99), in [0, 1).
    batch_size : examples per step (at least 2: a batch of one has no variance).
    epochs : passes over ``n_train`` examples (the digits' training set by default).
    drift : how far the true mean moves during the run, in stds.
    """
    if not 0 <= momentum < 1 or batch_size < 2 or epochs <= 0:
        raise ValueError(f"need 0 <= momentum < 1, batch_size >= 2, epochs > 0; got {momentum}, {batch_size}, {epochs}")
    from scipy.signal import lfilter

    steps_per_epoch = int(np.ceil(n_train / batch_size))
    n = max(1, int(round(epochs * steps_per_epoch)))
    rng = np.random.default_rng(seed)
    true_mean = EXPLORER_TRUE_MEAN + drift * EXPLORER_TRUE_STD * np.arange(n) / max(n - 1, 1)
    true_var = np.full(n, EXPLORER_TRUE_STD**2)
    batch_mean = true_mean + np.sqrt(true_var / batch_size) * rng.standard_normal(n)
    batch_var = true_var * rng.chisquare(batch_size - 1, n) / batch_size
    # moving[t] = m * moving[t-1] + (1 - m) * batch[t], from moving[-1] = start: a first-order linear filter
    ema = lambda x, start: lfilter([1 - momentum], [1, -momentum], x, zi=[momentum * start])[0]  # noqa: E731
    return RunningStats(
        momentum,
        batch_size,
        steps_per_epoch,
        true_mean,
        true_var,
        batch_mean,
        batch_var,
        ema(batch_mean, 0.0),
        ema(batch_var, 1.0),
    )


def steps_to_forget(momentum: float, fraction: float = 0.01) -> int:
    """Return how many updates shrink the start value's weight (momentum ** t) below ``fraction``."""
    return int(np.ceil(np.log(fraction) / np.log(momentum)))


# ------------------------------------------------------------------------------------------------------------
# Training several seeds cheaply
# ------------------------------------------------------------------------------------------------------------


def set_bn_momentum(model, momentum: float):
    """Set the momentum of every BatchNormalization layer of ``model`` (before compiling); return it."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
    return model


@dataclass
class SeedRuns:
    """Training runs of one architecture over several seeds."""

    seeds: tuple[int, ...]
    loss: np.ndarray  # (seeds, epochs): training loss per epoch
    val_accuracy: np.ndarray  # (seeds,): final validation accuracy, inference mode with Keras' moving averages
    model: object  # the model of the last seed, trained (moving averages as Keras left them)
    val_accuracy_training: np.ndarray | None = None  # (seeds,): training mode, the whole validation set as a batch
    val_accuracy_population: np.ndarray | None = None  # (seeds,): inference mode with population_statistics
    at_init: np.ndarray | None = None  # (seeds,): ``at_init(model)`` on each seed's fresh network


def train_over_seeds(
    build: Callable,
    splits,
    seeds=(0, 1, 2),
    *,
    epochs=5,
    learning_rate=0.05,
    batch_size=32,
    at_init: Callable | None = None,
) -> SeedRuns:
    """Train ``build()`` once per seed with plain SGD; return a :class:`SeedRuns`.

    One model and one traced epoch (:func:`utils.models.run_epochs`: what ``fit`` does per batch, without its
    machinery, which costs more to trace than the few hundred steps here) serve every seed: each seed restarts the
    model from the fresh weights of ``build()`` under that seed, and trains on its own shuffled minibatches (⌈n / 32⌉
    batches of nearly equal sizes). Plain SGD has no state, so this is the same as a new model per seed. After
    training, the validation accuracy is measured in inference mode (Keras' moving averages), in training mode,
    and in inference mode with :func:`population_statistics` (the returned model keeps Keras' moving averages).

    Parameters
    ----------
    build : returns a fresh, uncompiled model.
    splits : the data (``X_train``, ``y_train``, ``X_valid``, ``y_valid``).
    seeds, epochs, learning_rate, batch_size : the runs and their SGD settings.
    at_init : a measure of each seed's fresh network (e.g. a gradient ratio); variables it changes (the BN
        moving averages, in training mode) are restored before training.
    """
    import keras

    from utils.course import seed_everything
    from utils.models import run_epochs

    seed_everything(seeds[0])
    model = build()
    optimizer, loss = keras.optimizers.SGD(learning_rate), keras.losses.SparseCategoricalCrossentropy()
    losses, measures, accuracies = [], [], {"inference": [], "training": [], "population": []}
    for seed in seeds:
        seed_everything(seed)
        model.set_weights(build().get_weights())
        if at_init is not None:
            saved = [v.numpy() for v in model.non_trainable_variables]
            measures.append(at_init(model))
            _restore(model.non_trainable_variables, saved)
        X, y = splits.X_train, splits.y_train
        record = run_epochs(
            model, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer, loss=loss, seed=seed, rule="split"
        )
        losses.append(record.loss)
        for mode in ("inference", "training"):
            accuracies[mode].append(_validation_accuracy(model, splits, training=mode == "training"))
        saved = [v.numpy() for v in model.non_trainable_variables]
        population_statistics(model, splits.X_train, batch_size=batch_size)
        accuracies["population"].append(_validation_accuracy(model, splits, training=False))
        _restore(model.non_trainable_variables, saved)
    return SeedRuns(
        tuple(seeds),
        np.array(losses),
        np.array(accuracies["inference"]),
        model,
        np.array(accuracies["training"]),
        np.array(accuracies["population"]),
        None if at_init is None else np.array(measures),
    )


def _validation_accuracy(model, splits, *, training: bool) -> float:
    n = len(splits.X_valid)
    return batched_accuracy(model, splits.X_valid, splits.y_valid, batch_size=n, training=training)


def _restore(variables, values) -> None:
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


def population_statistics(model, X: np.ndarray, *, batch_size: int = 32):
    """Set every BN layer's moving mean and variance to the paper's population estimates; return ``model``.

    Ioffe & Szegedy (2015, Algorithm 2), after training, with the final weights: over the mini-batches of
    ``X``, E[x] = the mean of the batch means, Var[x] = m/(m - 1) times the mean of the biased batch variances
    (unbiased). Layer by layer, each BN layer's inputs come from the layers below in inference mode, their
    statistics already replaced. Keras instead keeps moving averages of the biased variance during training.
    """
    import keras

    h = np.asarray(X, np.float32)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            m = batch_size
            batches = h[: len(h) // m * m].reshape(-1, m, h.shape[1])  # full mini-batches only
            layer.moving_mean.assign(batches.mean(axis=1).mean(axis=0))
            layer.moving_variance.assign(m / (m - 1) * batches.var(axis=1).mean(axis=0))
        h = np.asarray(layer(h, training=False))
    return model


def keras_gradients(x: np.ndarray, dy: np.ndarray, gamma=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return TensorFlow's ``(dx, dgamma, dbeta)`` for a float64 Keras BatchNormalization in training mode.

    The loss is ``sum(dy * y)``: the same upstream gradient ``dy`` as :func:`batchnorm_backward` receives.
    """
    import keras
    import tensorflow as tf

    layer = keras.layers.BatchNormalization(dtype="float64")
    layer.build((None, x.shape[1]))
    if gamma is not None:
        layer.gamma.assign(np.asarray(gamma, np.float64))
    x = tf.constant(x, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    grads = tape.gradient(y, [x, layer.gamma, layer.beta], output_gradients=tf.constant(dy, tf.float64))
    return tuple(np.asarray(g) for g in grads)
