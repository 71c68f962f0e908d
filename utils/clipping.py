"""Gradient clipping, from scratch in numpy and measured in Keras: taught in chapter 05.

Three ways to clip (by value, by norm per tensor, by global norm) in numpy, matched to Keras' optimizer options
and to ``tf.clip_by_global_norm``; a recurrent network whose gradients explode (a ``SimpleRNN`` with its recurrent
kernel scaled to a spectral radius above 1) and a deep dense network with too large an initialization; a custom
training loop that records the global gradient norm at every step; a learning-rate sweep over seeds that reports
the fraction of clipped steps with every result (clipping compared with a smaller learning rate); what each method
makes of an infinite gradient; and a tiny numpy RNN fast enough for the chapter's explorer.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METHODS = ("value", "norm", "global_norm")  # the three clipping methods, in the order the chapter teaches them
KERAS_OPTIONS = {"value": "clipvalue", "norm": "clipnorm", "global_norm": "global_clipnorm"}
SEQ_LENGTH = 40  # long enough for a spectral radius of 1.2 to blow gradients up (1.2 ** 40 ≈ 1,500)
RNN_UNITS = 16
# The chapter's networks compute in float64. Exploding and thrashing runs amplify rounding differences step after
# step: in float32, another thread count or CPU kernel (oneDNN) changed their final losses in the first digit; in
# float64 the same runs print the same rounded numbers on every numeric path tried.
DTYPE = "float64"


# ------------------------------------------------------------------------------------------------------------
# Clipping from scratch: none of these change their inputs
# ------------------------------------------------------------------------------------------------------------


def global_norm(grads: Sequence[np.ndarray]) -> float:
    """Return the L2 norm of all tensors taken together, sqrt(Σ over tensors of Σ g²), in float64."""
    return float(np.sqrt(sum(np.sum(np.square(np.asarray(g, dtype=np.float64))) for g in grads)))


def clip_by_value(grads: Sequence[np.ndarray], threshold: float) -> list[np.ndarray]:
    """Return each gradient with every entry clipped to [-threshold, threshold] (changes the direction)."""
    return [np.clip(g, -threshold, threshold) for g in grads]


def clip_by_norm(grads: Sequence[np.ndarray], threshold: float) -> list[np.ndarray]:
    """Return each gradient rescaled, on its own, to a norm of at most ``threshold`` (Keras' ``clipnorm``)."""
    return [g * (threshold / max(global_norm([g]), threshold)) for g in grads]


def clip_by_global_norm(grads: Sequence[np.ndarray], threshold: float) -> tuple[list[np.ndarray], float]:
    """Return (gradients rescaled together to a global norm of at most ``threshold``, their global norm before).

    The numpy twin of ``tf.clip_by_global_norm``: every tensor gets the same factor, so the direction of the
    whole gradient is kept.
    """
    norm = global_norm(grads)
    scale = threshold / max(norm, threshold)
    return [g * scale for g in grads], norm


def clip(grads: Sequence[np.ndarray], method: str, threshold: float) -> list[np.ndarray]:
    """Return ``grads`` clipped by ``method`` (one of :data:`METHODS`, or "none")."""
    if method == "none":
        return [np.array(g, copy=True) for g in grads]
    if method == "global_norm":
        return clip_by_global_norm(grads, threshold)[0]
    functions = {"value": clip_by_value, "norm": clip_by_norm}
    if method not in functions:
        raise ValueError(f"unknown clipping method {method!r}: use one of {METHODS} or 'none'")
    return functions[method](grads, threshold)


def cosine(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """Return the cosine of the angle between two gradients, each flattened across all its tensors."""
    flat_a = np.concatenate([np.ravel(g) for g in a]).astype(np.float64)
    flat_b = np.concatenate([np.ravel(g) for g in b]).astype(np.float64)
    return float(flat_a @ flat_b / (np.linalg.norm(flat_a) * np.linalg.norm(flat_b)))


def example_gradients(seed: int = 0) -> list[np.ndarray]:
    """Return a gradient of three tensors of different shapes and sizes (a kernel, a recurrent kernel, a bias)."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.5, (3, 4)), rng.normal(0, 3.0, (4, 4)), rng.normal(0, 0.1, (4,))]


# ------------------------------------------------------------------------------------------------------------
# The same three in Keras and TensorFlow
# ------------------------------------------------------------------------------------------------------------


def keras_clipped(grads: Sequence[np.ndarray], option: str, threshold: float) -> list[np.ndarray]:
    """Return the gradients as a Keras optimizer with ``option=threshold`` (e.g. ``clipnorm=1.0``) applies them.

    One step of SGD with learning rate 1 on variables that start at 0 moves them by minus the clipped gradient:
    the optimizer's own clipping, read through its public API.
    """
    import keras

    variables = [keras.Variable(np.zeros_like(g, dtype=np.float32)) for g in grads]
    optimizer = keras.optimizers.SGD(learning_rate=1.0, **{option: threshold})
    optimizer.apply_gradients(zip([np.asarray(g, np.float32) for g in grads], variables, strict=True))
    return [-np.asarray(v.numpy(), dtype=np.float64) for v in variables]


def tf_clip_by_global_norm(grads: Sequence[np.ndarray], threshold: float) -> tuple[list[np.ndarray], float]:
    """Return ``tf.clip_by_global_norm`` of the gradients (float64) as numpy arrays, and the global norm."""
    import tensorflow as tf

    clipped, norm = tf.clip_by_global_norm([tf.constant(g, tf.float64) for g in grads], threshold)
    return [c.numpy() for c in clipped], float(norm)


def nonfinite_clipping(grads: Sequence[np.ndarray] | None = None, threshold: float = 1.0) -> dict[str, list]:
    """Return what each clipping method makes of a gradient holding an infinity: {method: clipped tensors}.

    The default gradient is ``[[inf, 1], [0.5]]``. Keras' options run in float32 (through :func:`keras_clipped`),
    the numpy ones in float64; ``tf.clip_by_global_norm`` as :func:`tf_clip_by_global_norm`.
    """
    grads = [np.array([np.inf, 1.0]), np.array([0.5])] if grads is None else grads
    with np.errstate(all="ignore"):
        results = {f"numpy clip by {m.replace('_', ' ')}": clip(grads, m, threshold) for m in METHODS}
        results.update({f"Keras {o}": keras_clipped(grads, o, threshold) for o in KERAS_OPTIONS.values()})
        results["tf.clip_by_global_norm"] = tf_clip_by_global_norm(grads, threshold)[0]
    return results


def float32_global_norm(grads: Sequence[np.ndarray]) -> float:
    """Return ``tf.linalg.global_norm`` of the gradients computed in float32, as a Keras model's gradients are."""
    import tensorflow as tf

    return float(tf.linalg.global_norm([tf.constant(np.asarray(g, np.float32)) for g in grads]))


def clips(model) -> bool:
    """Return True when ``model``'s optimizer clips its gradients (``clipnorm``, ``clipvalue``, ``global_clipnorm``)."""
    optimizer = getattr(model, "optimizer", None)
    return any(getattr(optimizer, option, None) for option in KERAS_OPTIONS.values())


def mutually_exclusive_error() -> str:
    """Return the message of the error Keras raises when two clipping options are given to one optimizer."""
    import keras

    try:
        keras.optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0)
    except ValueError as error:
        return str(error)
    return "no error"


# ------------------------------------------------------------------------------------------------------------
# A recurrent network whose gradients explode
# ------------------------------------------------------------------------------------------------------------


def make_sequences(n: int = 256, length: int = SEQ_LENGTH, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(x, y)``: ``n`` sequences of ``length`` N(0, 1) values, and their sum / sqrt(length) (variance 1).

    To predict the sum the network must carry information across every step, so gradients travel back through
    all of them; predicting 0 gives a mean squared error of about 1.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, length, 1)).astype(np.float32)
    y = (x.sum(axis=1) / np.sqrt(length)).astype(np.float32)
    return x, y


def spectral_radius(matrix: np.ndarray) -> float:
    """Return the largest absolute eigenvalue of a square matrix."""
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


def build_rnn(radius: float, *, seed: int = 0, units: int = RNN_UNITS, length: int = SEQ_LENGTH):
    """Return a SimpleRNN (tanh) → Dense(1) model whose recurrent kernel is rescaled to spectral radius ``radius``.

    Seeded by ``seed`` (Keras' global generator): the same seed gives the same weights.
    """
    import keras

    from utils.course import seed_everything

    seed_everything(seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(length, 1), dtype=DTYPE),
            keras.layers.SimpleRNN(units, name="rnn", dtype=DTYPE),
            keras.layers.Dense(1, name="out", dtype=DTYPE),
        ]
    )
    kernel = model.get_layer("rnn").cell.recurrent_kernel
    w = kernel.numpy()
    kernel.assign((w * (radius / spectral_radius(w))).astype(np.float32))
    return model


def input_gradient_norms(model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return ‖∂loss/∂x_t‖ for each time step t of a batch (mean squared error): how far back the gradient reaches."""
    import tensorflow as tf

    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = tf.reduce_mean(tf.square(model(inputs) - y))
    grad = tape.gradient(loss, inputs).numpy().astype(np.float64)
    return np.sqrt(np.sum(grad**2, axis=(0, 2)))


# ------------------------------------------------------------------------------------------------------------
# A custom training loop that records the gradient norm at every step
# ------------------------------------------------------------------------------------------------------------


@dataclass
class TrainRun:
    """One training run, step by step: the loss and the global norm of the raw (unclipped) gradient."""

    loss: np.ndarray
    grad_norm: np.ndarray

    @property
    def diverged(self) -> bool:
        """True when the loss became NaN or infinite at some step."""
        return bool(not np.all(np.isfinite(self.loss)))

    def final_loss(self, last: int = 10) -> float:
        """Return the mean loss over the ``last`` steps (NaN if the run diverged)."""
        return float(np.mean(self.loss[-last:])) if not self.diverged else float("nan")

    def clipped_fraction(self, threshold: float) -> float:
        """Return the fraction of steps whose raw gradient norm is above ``threshold`` (non-finite counts as above)."""
        norms = np.where(np.isfinite(self.grad_norm), self.grad_norm, np.inf)
        return float(np.mean(norms > threshold))


def train_recording(
    model, optimizer, x: np.ndarray, y: np.ndarray, *, steps: int, batch_size: int = 32, loss=None
) -> TrainRun:
    """Train ``model`` for ``steps`` steps on batches in order (wrapping around); record loss and gradient norm.

    The course's custom loop (:func:`utils.models.run_epochs`, one traced graph): the optimizer's own clipping
    options (``clipnorm``...) act inside ``apply_gradients``, and the recorded norm is the global norm of the
    gradient *before* clipping. Keras' ``fit`` does not show its gradients to callbacks, which is why the chapter
    records them in its own loop.

    Parameters
    ----------
    model, optimizer : a Keras model and a Keras optimizer (the same pair again reuses the traced graph).
    x, y : the training set.
    steps, batch_size : how many steps, of how many examples.
    loss : a Keras loss object (default: one ``keras.losses.MeanSquaredError()`` shared by every call).
    """
    from utils.models import run_epochs

    loss = _mse() if loss is None else loss
    kwargs = {"optimizer": optimizer, "loss": loss, "rule": "wrap", "steps": steps}
    record = run_epochs(model, x, y, batch_size=batch_size, **kwargs)
    return TrainRun(record.step_loss[0], record.step_norm[0])


@functools.cache
def _mse():
    import keras

    return keras.losses.MeanSquaredError()


def _restarted_runs(model, optimizer, starts: list, steps: int) -> list[TrainRun]:
    """Train ``model`` from each of ``starts`` (weights) with ``optimizer``, its state reset each time.

    The same as a new model and optimizer per run, at a fraction of the cost: one traced graph serves them all.
    """
    from utils.models import restart

    x, y = make_sequences()
    runs = []
    for weights in starts:
        restart(model, weights, optimizer)
        runs.append(train_recording(model, optimizer, x, y, steps=steps))
    return runs


def _starts(radius: float, seeds) -> list:
    """Return the fresh weights of :func:`build_rnn` for each seed."""
    return [build_rnn(radius, seed=seed).get_weights() for seed in seeds]


@dataclass
class SeedResults:
    """Final losses of one training recipe over several seeds (NaN where a run diverged).

    ``threshold`` is the clipping threshold of the recipe (None without clipping): the fraction of clipped steps,
    reported with every result, is measured against it.
    """

    seeds: tuple[int, ...]
    runs: list[TrainRun]
    threshold: float | None = None

    @property
    def final(self) -> np.ndarray:
        return np.array([run.final_loss() for run in self.runs])

    @property
    def n_diverged(self) -> int:
        return sum(run.diverged for run in self.runs)

    @property
    def clipped(self) -> np.ndarray:
        """Return the fraction of clipped steps of each run (0 without clipping)."""
        if self.threshold is None:
            return np.zeros(len(self.runs))
        return np.array([run.clipped_fraction(self.threshold) for run in self.runs])

    def summary(self) -> str:
        """Return 'final loss m ± s' over the runs that stayed finite, and how many diverged, rounded to 2 digits."""
        finite = self.final[np.isfinite(self.final)]
        loss = f"final loss {finite.mean():.2f} ± {finite.std():.2f}" if len(finite) else "final loss nan"
        return f"{loss}   diverged (NaN): {self.n_diverged} of {len(self.runs)}"

    def row(self) -> str:
        """Return one line of a comparison table: final loss (mean ± std, per seed), NaN count, clipped steps."""
        finite = self.final[np.isfinite(self.final)]
        if not len(finite):
            loss = f"{'nan':>13}"
        elif finite.max() < 100:
            loss = f"{finite.mean():6.2f} ± {finite.std():4.2f}"
        else:  # a run that blew up without NaN: the magnitude is the message
            loss = f"{finite.mean():>13.0e}"
        per_seed = " ".join(f"{v:5.2f}" if np.isfinite(v) and v < 100 else f"{v:5.0e}" for v in self.final)
        clipped = self.clipped
        steps = f"{clipped.mean():4.0%} ({clipped.min():.0%}-{clipped.max():.0%})" if self.threshold else "   - "
        return f"{loss}   [{per_seed}]   NaN {self.n_diverged}/{len(self.runs)}   clipped steps {steps}"


def rnn_over_seeds(radius: float, optimizer, seeds=(0, 1, 2), *, steps: int = 80) -> SeedResults:
    """Train :func:`build_rnn` (``radius``) once per seed with ``optimizer``; return the runs.

    One model and one traced graph serve every seed: each run restarts from that seed's fresh weights, with the
    optimizer's state reset (the same as a new model and optimizer, at a fraction of the cost). The optimizer's
    ``global_clipnorm`` (if any) is kept as the results' threshold.
    """
    runs = _restarted_runs(build_rnn(radius, seed=seeds[0]), optimizer, _starts(radius, seeds), steps)
    threshold = getattr(optimizer, "global_clipnorm", None)
    return SeedResults(tuple(seeds), runs, None if threshold is None else float(threshold))


def learning_rate_sweep(
    radius: float, learning_rates: Sequence[float], threshold: float | None = None, seeds=(0, 1, 2), *, steps=80
) -> dict[float, SeedResults]:
    """Return {learning rate: :func:`rnn_over_seeds` with plain SGD}, clipped by global norm at ``threshold`` if given.

    The same network, seeds and steps for every learning rate: the comparison the chapter makes between clipping
    and a smaller learning rate.
    """
    import keras

    clip_option = {} if threshold is None else {"global_clipnorm": threshold}
    # One model, optimizer and traced step for the whole sweep: each run restarts from its seed's fresh weights
    # with the optimizer's state reset, and only the learning rate changes (the same runs as separate optimizers).
    optimizer = keras.optimizers.SGD(learning_rates[0], **clip_option)
    model, starts = build_rnn(radius, seed=seeds[0]), _starts(radius, seeds)
    results = {}
    for lr in learning_rates:
        optimizer.learning_rate.assign(lr)
        runs = _restarted_runs(model, optimizer, starts, steps)
        results[lr] = SeedResults(tuple(seeds), runs, None if threshold is None else float(threshold))
    return results


def largest_usable(sweep: dict[float, SeedResults], target: float) -> float | None:
    """Return the largest learning rate of ``sweep`` whose final loss is below ``target`` in every seed (or None)."""
    usable = [lr for lr, runs in sweep.items() if np.all(runs.final < target)]
    return max(usable) if usable else None


HEALTHY_LEARNING_RATE = 0.01  # the SimpleRNN at ρ = 1.2 trains without clipping in every seed at this rate


@functools.cache
def _healthy_norms(radius: float, learning_rate: float, seeds: tuple[int, ...], steps: int) -> np.ndarray:
    runs = rnn_over_seeds(radius, _sgd(learning_rate), seeds, steps=steps).runs
    return np.concatenate([run.grad_norm for run in runs])


def _sgd(learning_rate: float):
    import keras

    return keras.optimizers.SGD(learning_rate)


def healthy_norms(radius: float = 1.2, learning_rate: float = HEALTHY_LEARNING_RATE, seeds=(0, 1, 2), steps=80):
    """Return the raw gradient norms of every step of the healthy runs (no clipping), all seeds together; cached."""
    return _healthy_norms(float(radius), float(learning_rate), tuple(seeds), int(steps)).copy()


# ------------------------------------------------------------------------------------------------------------
# A deep dense network with too large an initialization
# ------------------------------------------------------------------------------------------------------------


def build_deep_mlp(init_scale: float, *, depth: int = 10, width: int = 64, seed: int = 0):
    """Return a ReLU MLP for the digits with He-normal weights multiplied by ``init_scale`` (1: He itself).

    Each ReLU layer multiplies the signal's scale by about ``init_scale``, so 10 layers at 3 multiply it by 3^10.
    ``utils.models.build_mlp`` in float64 (see :data:`DTYPE`), seeded by ``seed``, with an output layer that gives
    logits: with huge logits a softmax saturates to exactly 0 and 1, and Keras' cross-entropy on probabilities
    (clipped to 1e-7) would then report a loss of about 16 and a gradient of 0, hiding the explosion.
    """
    import keras

    from utils.course import seed_everything
    from utils.models import build_mlp

    seed_everything(seed)
    scaled_he = functools.partial(keras.initializers.VarianceScaling, 2.0 * init_scale**2, "fan_in", "normal")
    name = f"mlp_{depth}x{width}_he_x{init_scale:g}"
    return build_mlp(depth, width, kernel_initializer=scaled_he, logits=True, dtype=DTYPE, name=name)


def train_digits(model, optimizer, splits, *, steps: int = 120, batch_size: int = 32) -> TrainRun:
    """Train a digits classifier that outputs logits for ``steps`` minibatch steps with :func:`train_recording`."""
    import keras

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return train_recording(
        model, optimizer, splits.X_train, splits.y_train, steps=steps, batch_size=batch_size, loss=loss
    )


# ------------------------------------------------------------------------------------------------------------
# The explorer's compute: a 2-D gradient clipped three ways, and a tiny numpy RNN trained with clipping
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Clip2D:
    """A 2-D gradient (one tensor), the norm of the other tensors of the model, a threshold and the clipped results."""

    gradient: np.ndarray
    other_norm: float
    threshold: float
    clipped: dict[str, np.ndarray]

    def angle(self, method: str) -> float:
        """Return the angle in degrees between the gradient and its clipped version by ``method``."""
        cos = float(np.clip(cosine([self.gradient], [self.clipped[method]]), -1, 1))
        return float(np.degrees(np.arccos(cos)))


def compute_clipping_2d(
    angle: float = 20.0, length: float = 3.0, threshold: float = 1.0, other_norm: float = 2.0
) -> Clip2D:
    """Return the 2-D gradient of ``length`` at ``angle`` degrees clipped by value, by norm and by global norm.

    The global norm also counts the model's other tensors, whose gradient has norm ``other_norm``: clipping
    by global norm shrinks this tensor more than clipping it by its own norm does.
    """
    theta = np.radians(angle)
    g = length * np.array([np.cos(theta), np.sin(theta)])
    other = np.array([other_norm])  # the rest of the model's gradient, summed up as one number
    clipped = {
        "value": clip_by_value([g], threshold)[0],
        "norm": clip_by_norm([g], threshold)[0],
        "global_norm": clip_by_global_norm([g, other], threshold)[0][0],
    }
    return Clip2D(g, float(other_norm), float(threshold), clipped)


@dataclass
class NumpyRNN:
    """Weights of a tiny tanh RNN, h_t = tanh(h_{t-1} W + x_t U + b), read out as h_T v + c."""

    W: np.ndarray
    U: np.ndarray
    b: np.ndarray
    v: np.ndarray
    c: np.ndarray

    def params(self) -> list[np.ndarray]:
        return [self.W, self.U, self.b, self.v, self.c]


NUMPY_RNN = {"units": 8, "length": 20, "batch": 32, "radius": 1.5, "learning_rate": 0.5, "steps": 40}


def init_numpy_rnn(units: int = 8, radius: float = 1.5, seed: int = 0) -> NumpyRNN:
    """Return a tiny RNN with a random recurrent matrix rescaled to spectral radius ``radius``."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(units, units))
    return NumpyRNN(
        W=w * (radius / spectral_radius(w)),
        U=rng.normal(0, 1.0, (1, units)),
        b=np.zeros(units),
        v=rng.normal(0, 1 / np.sqrt(units), (units, 1)),
        c=np.zeros(1),
    )


def numpy_rnn_loss_and_grads(rnn: NumpyRNN, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """Return the mean squared error of the tiny RNN on ``(x, y)`` and its gradients (backpropagation through time)."""
    batch, length, _ = x.shape
    drive = x[:, :, 0].T[:, :, None] * rnn.U + rnn.b  # (time, batch, units): the input's share, all steps at once
    hs = np.zeros((length + 1, batch, rnn.W.shape[0]))
    for t in range(length):
        hs[t + 1] = np.tanh(hs[t] @ rnn.W + drive[t])
    out = hs[-1] @ rnn.v + rnn.c
    loss = float(np.mean((out - y) ** 2))
    d_out = 2 * (out - y) / batch
    das = np.empty_like(hs[1:])
    dh = d_out @ rnn.v.T
    for t in reversed(range(length)):
        das[t] = dh * (1 - hs[t + 1] ** 2)
        dh = das[t] @ rnn.W.T
    dW = np.einsum("tbi,tbj->ij", hs[:-1], das)
    dU = np.einsum("bt,tbj->j", x[:, :, 0], das)[None, :]
    return loss, [dW, dU, das.sum(axis=(0, 1)), hs[-1].T @ d_out, d_out.sum(axis=0)]


@dataclass
class RNNRun:
    """A short run of the tiny numpy RNN: loss and raw gradient norm per step, the method and threshold used."""

    method: str
    threshold: float
    loss: np.ndarray
    grad_norm: np.ndarray

    @property
    def diverged(self) -> bool:
        return bool(not np.all(np.isfinite(self.loss)))

    def clipped_fraction(self) -> float:
        """Return the fraction of steps whose raw global norm was above the threshold (0 without clipping)."""
        if self.method == "none":
            return 0.0
        return float(np.mean(np.where(np.isfinite(self.grad_norm), self.grad_norm, np.inf) > self.threshold))


@functools.lru_cache(maxsize=256)
def numpy_rnn_run(method: str = "global_norm", threshold: float = 1.0, *, seed: int = 0) -> RNNRun:
    """Train the tiny numpy RNN with plain SGD for a few dozen steps, clipping by ``method``; cached.

    Settings in :data:`NUMPY_RNN`: spectral radius 1.5 and a learning rate of 0.5, which explode without
    clipping. A step whose gradient is not finite stops the run (the rest of the loss stays NaN).
    """
    from utils.blas import single_blas_thread

    cfg = NUMPY_RNN
    x, y = make_sequences(cfg["batch"], cfg["length"], seed=seed)
    x, y = x.astype(np.float64), y.astype(np.float64)
    rnn = init_numpy_rnn(cfg["units"], cfg["radius"], seed=seed)
    losses, norms = np.full(cfg["steps"], np.nan), np.full(cfg["steps"], np.nan)
    with single_blas_thread(), np.errstate(all="ignore"):
        for i in range(cfg["steps"]):
            losses[i], grads = numpy_rnn_loss_and_grads(rnn, x, y)
            norms[i] = global_norm(grads)
            if not (np.isfinite(losses[i]) and np.isfinite(norms[i])):
                break
            for param, grad in zip(rnn.params(), clip(grads, method, threshold), strict=True):
                param -= cfg["learning_rate"] * grad
    return RNNRun(method, float(threshold), losses, norms)


@dataclass
class ClippingExplorer:
    """What the chapter's explorer shows: the 2-D case and two short RNN runs (without and with clipping)."""

    plane: Clip2D
    unclipped: RNNRun
    clipped: RNNRun


def compute_clipping_explorer(
    angle: float = 20.0,
    length: float = 3.0,
    threshold: float = 1.0,
    other_norm: float = 2.0,
    method: str = "global_norm",
) -> ClippingExplorer:
    """Return the explorer's data: :func:`compute_clipping_2d` and :func:`numpy_rnn_run` at ``threshold``."""
    return ClippingExplorer(
        compute_clipping_2d(angle, length, threshold, other_norm),
        numpy_rnn_run("none", 0.0),
        numpy_rnn_run(method, round(float(threshold), 4)),
    )
