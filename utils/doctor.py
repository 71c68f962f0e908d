"""``doctor(model, x, y)``: the course's statistics run on a learner's own Keras model, read out in plain words.

Taught in chapter 08. Each finding names the statistic that gives the problem away, its value, the fix, and
the chapter that teaches the fix; a healthy model gets no finding. Call it through
``utils.diagnostics.doctor``. Thresholds are deliberately far from what healthy networks show, so that the
doctor stays quiet unless something is clearly wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHAPTERS = {
    "01": "01_vanishing_exploding_gradients.ipynb",
    "02": "02_initialization.ipynb",
    "03": "03_nonsaturating_activations.ipynb",
    "04": "04_batch_normalization.ipynb",
    "05": "05_gradient_clipping.ipynb",
    "06": "06_transfer_learning.ipynb",
}
DEAD_LAYER, DEAD_MEAN = 0.9, 0.5  # a layer with 90% dead units, or half of all hidden units dead
VANISHING_RATIO = 1e-3  # lowest / top hidden layer's gradient norm
EXPLODING_GROWTH = 100.0  # last / first hidden layer's activation std
GAIN_TOO_LARGE, GAIN_TOO_SMALL = 3.0, 0.2  # std(W)·√fan_in; He asks √2 ≈ 1.41, LeCun 1, Glorot about 1
GRADIENT_LIMIT = 1e3  # a global gradient norm above this is an explosion for the course's small models
RELU_LIKE = ("relu", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus", "linear", "prelu", "rrelu")


@dataclass(frozen=True)
class Finding:
    """One likely problem: a key (``dead``, ``vanishing``...), what is wrong, the evidence, the fix and its chapter."""

    key: str
    problem: str
    evidence: str
    fix: str
    chapter: str

    def text(self, number: int) -> str:
        """Return the finding as two or three printed lines."""
        return (
            f"{number}. {self.problem}\n   Evidence: {self.evidence}\n"
            f"   Fix: {self.fix} (chapters/{CHAPTERS[self.chapter]})"
        )


def examine(model, x, y) -> list[Finding]:
    """Return the likely problems of ``model`` on the batch ``(x, y)``, most specific causes first (none: healthy)."""
    findings = _frozen_still_training(model) + _bn_never_trained(model) + _recurrent(model, x, y)
    stats = _layer_stats(model, x, y)
    if stats is not None:
        findings += _dead(model, stats) + _weight_scale(model) + _exploding(model, stats) + _vanishing(stats)
    findings += _not_finite(model, x, y, findings)
    keys, unique = set(), []
    for finding in findings:
        if finding.key not in keys:
            keys.add(finding.key)
            unique.append(finding)
    return unique


def doctor(model, x, y, *, quiet: bool = False) -> list[Finding]:
    """Run the course's statistics on ``model`` with the batch ``(x, y)``, print the likely problems, return them."""
    findings = examine(model, x, y)
    if not quiet:
        print(report(findings, len(x)))
    return findings


def report(findings: list[Finding], n: int) -> str:
    """Return the doctor's printed report for ``findings`` on ``n`` examples."""
    if not findings:
        return f"doctor: nothing looks wrong in the course's statistics on these {n} examples."
    head = f"doctor: {len(findings)} likely problem{'s' if len(findings) > 1 else ''} on these {n} examples"
    return "\n".join([head] + [f.text(i) for i, f in enumerate(findings, start=1)])


# ------------------------------------------------------------------------------------------------------------
# The statistics
# ------------------------------------------------------------------------------------------------------------


def _layer_stats(model, x, y):
    """Return chapter 01's per-layer statistics, or None for a model they do not apply to (branches, no kernels).

    A network with batch normalization is measured in training mode, as the optimizer sees it (in inference mode
    a fresh BN layer is nearly the identity, and its gradient flow says nothing about training).
    """
    import keras

    from utils.diagnostics import keras_layer_stats

    training = any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    saved = [v.numpy().copy() for v in model.non_trainable_variables]  # a training-mode call updates BN's averages
    try:
        return keras_layer_stats(model, x, y, training=training)
    except (ValueError, TypeError):
        return None
    finally:
        for variable, value in zip(model.non_trainable_variables, saved, strict=True):
            variable.assign(value)


def _hidden_dense(model) -> list:
    """Return the layers with a 2-D kernel, except the last one (the output layer)."""
    return [layer for layer in model.layers if len(getattr(getattr(layer, "kernel", None), "shape", ())) == 2][:-1]


def _gains(model) -> np.ndarray:
    """Return std(W)·√fan_in for each hidden layer: the weight scale chapter 02 compares with He (√2) and LeCun (1)."""
    return np.array(
        [float(np.std(layer.kernel.numpy()) * np.sqrt(layer.kernel.shape[0])) for layer in _hidden_dense(model)]
    )


def _dead(model, stats) -> list[Finding]:
    hidden = [i for i in range(len(stats) - 1) if stats.activation[i] in ("relu", "relu6")]
    if not hidden:
        return []
    dead = stats.frac_dead[hidden]
    if dead.max() < DEAD_LAYER and dead.mean() < DEAD_MEAN:
        return []
    worst = hidden[int(np.argmax(dead))]
    biases = [
        float(np.mean(layer.bias.numpy())) for layer in _hidden_dense(model) if getattr(layer, "bias", None) is not None
    ]
    cause = f"; the hidden biases average {np.mean(biases):.1f}" if biases and np.mean(biases) < -0.25 else ""
    return [
        Finding(
            "dead",
            "Dead ReLUs: most hidden units output 0 for every example, so no gradient flows through them.",
            f"{100 * dead.mean():.0f}% of the hidden ReLU units never fire on this batch "
            f"({100 * dead.max():.0f}% in {stats.names[worst]}){cause}.",
            "start the biases at 0 (or slightly above), use He initialization, or a leaky ReLU / ELU; "
            "a lower learning rate does not revive units that are dead already",
            "03",
        )
    ]


def _weight_scale(model) -> list[Finding]:
    gains = _gains(model)
    if gains.size == 0:
        return []
    median = float(np.median(gains))
    if median > GAIN_TOO_LARGE:
        return [
            Finding(
                "exploding",
                "Exploding signal: the initial weights are far too large for the layers' fan-in.",
                f"std(W)·√fan_in is {median:.1f} (median over the hidden layers); He asks √2 ≈ 1.4, LeCun 1.",
                "initialize with He (ReLU family) or LeCun/Glorot (tanh, SELU), which scale by the fan-in; "
                "clipping only hides this",
                "02",
            )
        ]
    if median < GAIN_TOO_SMALL:
        return [
            Finding(
                "init_too_small",
                "Too small an initialization: each layer shrinks the signal, and the gradient with it.",
                f"std(W)·√fan_in is {median:.2f} (median over the hidden layers); He asks √2 ≈ 1.4, LeCun 1.",
                "initialize with He (ReLU family) or LeCun/Glorot (tanh, SELU), which scale by the fan-in",
                "02",
            )
        ]
    return []


def _exploding(model, stats) -> list[Finding]:
    std = stats.act_std[:-1]
    if len(std) < 2 or std[0] <= 0 or not np.all(np.isfinite(std)):
        return []
    growth = float(std[-1] / std[0])
    if growth < EXPLODING_GROWTH:
        return []
    return [
        Finding(
            "exploding",
            "Exploding signal: activations grow layer after layer, and the gradients with them.",
            f"the last hidden layer's activation std is {growth:.0e} times the first's.",
            "initialize with He or LeCun (scaled by the fan-in), add batch normalization, or clip the gradients",
            "02",
        )
    ]


def _vanishing(stats) -> list[Finding]:
    if len(stats) < 3 or not stats.grad_norm[-2] > 0:
        return []
    ratio = float(stats.grad_norm[0] / stats.grad_norm[-2])
    if not np.isfinite(ratio) or ratio >= VANISHING_RATIO:
        return []
    saturating = stats.activation[0] in ("sigmoid", "tanh", "softsign", "hard_sigmoid")
    return [
        Finding(
            "vanishing",
            "Vanishing gradients: the lowest layers get almost no gradient, so they do not learn.",
            f"the lowest hidden layer's gradient norm is {ratio:.0e} times the top hidden layer's"
            + (f" ({stats.activation[0]} activations)." if saturating else "."),
            "use ReLU-family activations with He initialization, or add batch normalization",
            "03" if saturating else "02",
        )
    ]


def _bn_never_trained(model) -> list[Finding]:
    import keras

    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    optimizer = getattr(model, "optimizer", None)
    steps = int(optimizer.iterations.numpy()) if optimizer is not None and hasattr(optimizer, "iterations") else 0
    if not bns or steps == 0:
        return []
    untouched = [
        layer.name
        for layer in bns
        if np.all(layer.moving_mean.numpy() == 0) and np.all(layer.moving_variance.numpy() == 1)
    ]
    if len(untouched) < len(bns):
        return []
    return [
        Finding(
            "bn_mode",
            "Batch normalization never ran in training mode: it still normalizes with its start values.",
            f"after {steps} optimizer steps, all {len(bns)} BN layers still hold moving mean 0 and variance 1.",
            "in a custom training step call model(x, training=True) (fit does it for you); "
            "evaluate with training=False",
            "04",
        )
    ]


def _frozen_still_training(model) -> list[Finding]:
    optimizer = getattr(model, "optimizer", None)
    tracked = {id(v) for v in getattr(optimizer, "_trainable_variables", None) or []}
    if not tracked or getattr(model, "train_function", None) is None:
        return []
    leaking = [
        layer.name for layer in model.layers if not layer.trainable and any(id(v) in tracked for v in layer.weights)
    ]
    if not leaking:
        return []
    return [
        Finding(
            "frozen_train",
            "Frozen layers still train: they were frozen after the model was compiled and trained.",
            f"{len(leaking)} layer{'s' if len(leaking) > 1 else ''} marked trainable=False "
            f"({', '.join(leaking[:3])}) are still among the variables the compiled optimizer updates.",
            "call model.compile(...) again after changing layer.trainable (the flags are read when compiling)",
            "06",
        )
    ]


def _global_gradient_norm(model, x, y) -> float:
    import tensorflow as tf

    from utils.diagnostics import _default_loss

    loss_fn = _default_loss(model, [model.layers[-1]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(loss_fn(y, model(x, training=False)))
    grads = [g for g in tape.gradient(loss, model.trainable_variables) if g is not None]
    return float(np.sqrt(sum(np.sum(np.square(g.numpy(), dtype=np.float64)) for g in grads))) if grads else 0.0


def _clips(model) -> bool:
    optimizer = getattr(model, "optimizer", None)
    return any(getattr(optimizer, name, None) for name in ("clipnorm", "clipvalue", "global_clipnorm"))


def _recurrent(model, x, y) -> list[Finding]:
    import keras

    rnns = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    if not rnns or _clips(model):
        return []
    risky = []
    for layer in rnns:
        cell = layer.cell
        kernel = getattr(cell, "recurrent_kernel", None)
        name = getattr(getattr(cell, "activation", None), "__name__", "")
        if kernel is None or name not in RELU_LIKE:
            continue
        radius = float(np.max(np.abs(np.linalg.eigvals(kernel.numpy()))))
        if radius >= 0.95:
            risky.append(f"{layer.name}: {name} activation, recurrent spectral radius {radius:.1f}")
    norm = _global_gradient_norm(model, x, y)
    if not risky and np.isfinite(norm) and norm < GRADIENT_LIMIT:
        return []
    evidence = "; ".join(risky) if risky else f"global gradient norm {norm:.0e}"
    return [
        Finding(
            "rnn_exploding",
            "Exploding gradients through time: nothing bounds the recurrent signal, and no clipping bounds the step.",
            evidence + " (an unbounded activation with radius ≥ 1 lets a few steps grow without limit).",
            "clip the gradients (optimizer clipnorm=1.0 or global_clipnorm), or use tanh with a radius below 1",
            "05",
        )
    ]


def _not_finite(model, x, y, findings: list[Finding]) -> list[Finding]:
    """Report a NaN or infinite output or gradient, unless a finding already explains an explosion."""
    if any(f.key in ("exploding", "rnn_exploding") for f in findings):
        return []
    weights_finite = all(np.all(np.isfinite(w)) for w in model.get_weights())
    norm = _global_gradient_norm(model, x, y) if weights_finite else float("nan")
    if weights_finite and np.isfinite(norm) and norm < GRADIENT_LIMIT:
        return []
    where = "the weights contain NaN or infinity" if not weights_finite else f"the global gradient norm is {norm:.0e}"
    return [
        Finding(
            "exploding",
            "Exploding gradients: training has blown up (or is about to).",
            f"{where}.",
            "re-initialize with He/LeCun scaling, lower the learning rate, and clip the gradients",
            "05",
        )
    ]
