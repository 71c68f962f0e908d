"""``doctor(model, x, y)``: the course's statistics run on a learner's own Keras model, read out in plain words.

Taught in chapter 08. Each finding names the statistic that gives the problem away, its value, the fix, and
the chapter that teaches the fix; a healthy model gets no finding. It reads the model through
:mod:`utils.diagnostics` and :mod:`utils.clipping` (public names only); no compute module imports it.
Thresholds are deliberately far from what healthy networks show, so that the doctor stays quiet unless something
is clearly wrong; where a check cannot run on a model (the per-layer
statistics on a network that branches, the learning rate of a model that is not compiled), the report says so
instead of "nothing looks wrong".

What is measured on the model itself, and what on a copy:

- the per-layer statistics (chapter 01) run the model forward and backward on the batch, changing nothing;
- the learning rate is judged by one step of a *new* optimizer built from the model's optimizer config, on a copy
  of the model (:func:`update_ratios`);
- "frozen layers still train" is judged by what ``fit`` actually does: one ``fit`` step on the batch, after which
  every variable (weights, optimizer state, metrics) is put back as it was. ``fit`` reuses the training function it
  traced the first time, with the ``trainable`` flags of that moment, until ``compile`` (or
  ``model.make_train_function(force=True)``) rebuilds it; that cached function is what this check exercises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CHAPTERS = {
    "01": "01_vanishing_exploding_gradients.ipynb",
    "02": "02_initialization.ipynb",
    "03": "03_nonsaturating_activations.ipynb",
    "04": "04_batch_normalization.ipynb",
    "05": "05_gradient_clipping.ipynb",
    "06": "06_transfer_learning.ipynb",
    "08": "08_capstone_debugging_a_deep_net.ipynb",
}
DEAD_LAYER, DEAD_MEAN = 0.9, 0.5  # a layer with 90% dead units, or half of all hidden units dead
VANISHING_RATIO = 1e-3  # lowest / top hidden layer's gradient norm
EXPLODING_GROWTH = 100.0  # last / first hidden layer's activation std
GAIN_TOO_LARGE, GAIN_TOO_SMALL = 3.0, 0.2  # std(W)·√fan_in; He asks √2 ≈ 1.41, LeCun 1, Glorot about 1
GRADIENT_LIMIT = 1e3  # a global gradient norm above this is an explosion for the course's small models
INPUT_SCALE = 4.0  # root mean square of the inputs: standardized features give 1 (the digits' raw 0-16: 7.8)
TARGET_SCALE = 30.0  # root mean square of regression targets: standardized targets give 1
UPDATE_RATIO_HIGH = 0.25  # largest std(ΔW)/std(W) of one step; ~1e-3 is healthy (Karpathy), the course's 1e-2-6e-2
RELU_LIKE = ("relu", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus", "linear", "prelu", "rrelu")
TITLES = {  # the short names the report's first line gives each finding
    "unscaled_inputs": "unscaled inputs",
    "unscaled_targets": "unscaled regression targets",
    "too_high_lr": "too high a learning rate",
    "frozen_train": "frozen layers still train",
    "bn_mode": "BN never in training mode",
    "rnn_exploding": "exploding gradients through time",
    "dead": "dead ReLUs",
    "exploding": "exploding signal or gradients",
    "init_too_small": "too small an initialization",
    "vanishing": "vanishing gradients",
}
NOT_A_STACK = (
    "my per-layer statistics (dead units, vanishing and exploding signal, weight scale) do not apply to this model "
    "(it branches, or has no chain of Dense/Conv layers)"
)


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


@dataclass
class Diagnosis:
    """The doctor's findings, and what it could not check on this model (in words)."""

    findings: list[Finding]
    not_run: list[str] = field(default_factory=list)


def diagnose(model, x, y) -> Diagnosis:
    """Return the likely problems of ``model`` on the batch ``(x, y)``, and the checks that could not run."""
    x, y = np.asarray(x), np.asarray(y)
    not_run: list[str] = []
    findings = _unscaled_inputs(model, x) + _unscaled_targets(model, x, y)
    findings += _frozen_still_training(model, x, y) + _bn_never_trained(model) + _recurrent(model, x, y)
    stats = _layer_stats(model, x, y)
    if stats is None:
        not_run.append(NOT_A_STACK)
    else:
        findings += _dead(model, stats) + _weight_scale(model) + _exploding(model, stats) + _vanishing(stats)
    high_lr = _too_high_lr(model, x, y, findings, not_run)
    if high_lr and _steps(model) > 0:
        findings = high_lr + findings  # trained weights that blew up: the step size is the cause
    else:
        findings += high_lr
    findings += _not_finite(model, x, y, findings)
    keys, unique = set(), []
    for finding in findings:
        if finding.key not in keys:
            keys.add(finding.key)
            unique.append(finding)
    return Diagnosis(unique, not_run)


def examine(model, x, y) -> list[Finding]:
    """Return the likely problems of ``model`` on the batch ``(x, y)``, most specific causes first (none: healthy)."""
    return diagnose(model, x, y).findings


def doctor(model, x, y, *, quiet: bool = False) -> list[Finding]:
    """Run the course's statistics on ``model`` with the batch ``(x, y)``, print the likely problems, return them.

    Taught in chapter 08. Besides chapter 01's per-layer statistics it checks the scale of the inputs and regression
    targets, one step of the model's optimizer on a copy (the update-to-weight ratio), and one ``fit`` step for frozen
    layers that still train (every variable restored); where a check cannot run, the report says so. Each finding
    names the chapter that fixes it; a healthy model gets none.
    """
    result = diagnose(model, x, y)
    if not quiet:
        print(report(result.findings, len(x), result.not_run))
    return result.findings


def report(findings: list[Finding], n: int, not_run: list[str] | tuple = ()) -> str:
    """Return the doctor's printed report for ``findings`` on ``n`` examples (``not_run``: checks that did not run)."""
    notes = [f"   Not checked: {note}: only the checks that ran are reported." for note in not_run]
    if not findings:
        if any(note == NOT_A_STACK for note in not_run):
            head = f"doctor: no finding on these {n} examples, from the checks that could run."
        else:
            head = f"doctor: nothing looks wrong in the course's statistics on these {n} examples."
        return "\n".join([head] + notes)
    names = ", ".join(TITLES.get(f.key, f.key) for f in findings)
    head = f"doctor: {len(findings)} likely problem{'s' if len(findings) > 1 else ''} on these {n} examples: {names}"
    return "\n".join([head] + [f.text(i) for i, f in enumerate(findings, start=1)] + notes)


# ------------------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------------------


def _steps(model) -> int:
    """Return how many steps the model's optimizer has taken (0: a fresh or uncompiled model)."""
    optimizer = getattr(model, "optimizer", None)
    iterations = getattr(optimizer, "iterations", None)
    return int(iterations.numpy()) if iterations is not None else 0


def _real_layers(model) -> list:
    import keras

    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _loss_fn(model):
    from utils.diagnostics import default_loss

    return default_loss(model)


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


# ------------------------------------------------------------------------------------------------------------
# The data: inputs and targets
# ------------------------------------------------------------------------------------------------------------

_SCALING_LAYERS = ("Normalization", "Rescaling", "BatchNormalization", "LayerNormalization", "Embedding")


def _unscaled_inputs(model, x) -> list[Finding]:
    layers = _real_layers(model)
    if not layers or type(layers[0]).__name__ in _SCALING_LAYERS or x.dtype.kind not in "biuf" or x.size == 0:
        return []  # the model scales its own inputs (or looks them up: token ids are not features)
    x = x.astype(np.float64)
    rms = float(np.sqrt(np.mean(np.square(x))))
    if not np.isfinite(rms) or rms <= INPUT_SCALE:
        return []
    return [
        Finding(
            "unscaled_inputs",
            "Unscaled inputs: the features are far from mean 0 and std 1, the scale every initialization assumes.",
            f"the inputs have mean {np.mean(x):.3g} and std {np.std(x):.3g} over all features "
            f"(root mean square {rms:.3g}; standardized inputs give 0, 1 and 1).",
            "standardize each feature with the training set's mean and std (utils.data.standardize_with), "
            "or start the model with a keras.layers.Normalization layer adapted to the training inputs",
            "08",
        )
    ]


def _is_regression(model, y) -> bool:
    loss = getattr(model, "loss", None)
    name = loss if isinstance(loss, str) else getattr(loss, "name", "") or type(loss).__name__
    if any(word in str(name).lower() for word in ("squared", "mse", "mae", "absolute", "huber", "log_cosh")):
        return True
    return y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0)


def _unscaled_targets(model, x, y) -> list[Finding]:
    if y.dtype.kind not in "biuf" or y.size == 0 or not _is_regression(model, y):
        return []
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    if not np.isfinite(rms) or rms <= TARGET_SCALE:
        return []
    norm = _global_gradient_norm(model, x, y)
    return [
        Finding(
            "unscaled_targets",
            "Unscaled regression targets: the loss and its gradient grow with the targets' scale.",
            f"the targets have mean {np.mean(y):.3g} and std {np.std(y):.3g} (standardized targets: 0 and 1); "
            f"the global gradient norm is {norm:.0e} at this scale, large because of the targets, "
            "not because of the network.",
            "standardize the targets with the training set's mean and std, and undo it on the predictions "
            "(y_pred * std + mean); clipping or a tiny learning rate would only hide the scale",
            "08",
        )
    ]


# ------------------------------------------------------------------------------------------------------------
# The per-layer statistics
# ------------------------------------------------------------------------------------------------------------


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
    steps = _steps(model)
    if median > GAIN_TOO_LARGE:
        if steps:  # trained weights: their scale says what training did, not how they started
            return [
                Finding(
                    "exploding",
                    "Exploding signal: the weights are far too large for the layers' fan-in.",
                    f"after {steps} training steps, std(W)·√fan_in is {median:.1f} (median over the hidden layers); "
                    "He asks √2 ≈ 1.4, LeCun 1.",
                    "measure the fresh model: if it starts at He/LeCun scale, training grew the weights "
                    "(lower the learning rate); if not, initialize with He or LeCun",
                    "02",
                )
            ]
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


# ------------------------------------------------------------------------------------------------------------
# The training set-up: BN's mode, frozen layers, the learning rate
# ------------------------------------------------------------------------------------------------------------


def _bn_never_trained(model) -> list[Finding]:
    import keras

    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    steps = _steps(model)
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


def _state(model) -> list:
    """Return every variable a ``fit`` step can change: the model's, its optimizer's and its metrics'."""
    variables = list(model.variables) + list(getattr(model.optimizer, "variables", []))
    for metric in getattr(model, "metrics", []):
        variables += list(metric.variables)
    unique = {id(v): v for v in variables}
    return list(unique.values())


def _frozen_still_training(model, x, y) -> list[Finding]:
    """Report layers marked ``trainable=False`` that one ``fit`` step still changes (state restored afterwards).

    Only a model that was fitted before has a cached training function; a model compiled after freezing (or never
    fitted) builds a new one with the current flags, so nothing can leak.
    """
    frozen = [layer for layer in model.layers if not layer.trainable and layer.weights]
    if not frozen or getattr(model, "train_function", None) is None or getattr(model, "optimizer", None) is None:
        return []
    state = _state(model)
    saved = [v.numpy().copy() for v in state]
    before = [[w.numpy().copy() for w in layer.weights] for layer in frozen]
    history = getattr(model, "history", None)
    try:
        model.fit(x, y, batch_size=len(x), epochs=1, verbose=0, shuffle=False)
        moved = [
            layer.name
            for layer, weights in zip(frozen, before, strict=True)
            if any(not np.array_equal(w.numpy(), b) for w, b in zip(layer.weights, weights, strict=True))
        ]
    except Exception:  # noqa: BLE001 (a model this batch cannot train: the check does not apply)
        moved = []
    finally:
        for variable, value in zip(state, saved, strict=True):
            variable.assign(value)
        if history is not None:
            model.history = history
    if not moved:
        return []
    return [
        Finding(
            "frozen_train",
            "Frozen layers still train: fit reuses a training function traced before they were frozen.",
            f"one fit step on these examples (every variable restored afterwards) changed {len(moved)} "
            f"layer{'s' if len(moved) > 1 else ''} marked trainable=False ({', '.join(moved[:3])}).",
            "call model.compile(...) again after changing layer.trainable (the same optimizer is fine), or "
            "model.make_train_function(force=True): fit keeps the function it traced with the old flags",
            "06",
        )
    ]


def _copy_for_a_step(model):
    """Return a copy of ``model`` to take a step on: the fresh model's weights, or a re-initialized one if trained.

    A trained model's weights say what training did; the learning rate is judged where training starts.
    """
    import keras

    try:
        copy = keras.models.clone_model(model)  # new weights, drawn by the model's own initializers
        if _steps(model) == 0:
            copy.set_weights(model.get_weights())
        return copy
    except Exception:  # noqa: BLE001 (a model Keras cannot clone: measure it in place, restored afterwards)
        return None


def update_ratios(model, x, y) -> np.ndarray:
    """Return std(ΔW)/std(W) of each kernel for one step of the model's optimizer, taken on a copy of the model.

    The optimizer is a new one built from the model's optimizer config (same class, learning rate, clipping), so
    the model and its optimizer's state are left as they were. About 1e-3 is healthy (Karpathy's rule of thumb).
    """
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(model.optimizer))
    copy = _copy_for_a_step(model)
    target = copy if copy is not None else model
    saved = [v.numpy().copy() for v in target.variables]
    try:
        variables = target.trainable_variables
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(_loss_fn(model)(y, target(x, training=True)))
        grads = tape.gradient(loss, variables)
        pairs = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        kernels = [(v, v.numpy().copy()) for _, v in pairs if len(v.shape) >= 2]
        optimizer.apply_gradients(pairs)
        return np.array([float(np.std(v.numpy() - w, dtype=np.float64) / max(np.std(w), 1e-12)) for v, w in kernels])
    finally:
        if copy is None:
            for variable, value in zip(target.variables, saved, strict=True):
                variable.assign(value)


def _too_high_lr(model, x, y, findings: list[Finding], not_run: list[str]) -> list[Finding]:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or getattr(model, "loss", None) is None:
        not_run.append("the model is not compiled, so the learning rate (one step of its optimizer) was not measured")
        return []
    if any(f.key in ("unscaled_inputs", "unscaled_targets") for f in findings) or (
        _steps(model) == 0 and any(f.key in ("exploding", "init_too_small") for f in findings)
    ):
        return []  # the data's or the weights' scale makes every step huge: that finding is the cause
    try:
        ratios = update_ratios(model, x, y)
    except Exception:  # noqa: BLE001 (an optimizer or loss this batch cannot step: the check does not apply)
        not_run.append("one optimizer step could not be taken on a copy, so the learning rate was not measured")
        return []
    if ratios.size == 0 or not np.all(np.isfinite(ratios)) or ratios.max() <= UPDATE_RATIO_HIGH:
        return []
    rate = float(np.asarray(optimizer.learning_rate))
    return [
        Finding(
            "too_high_lr",
            "Too high a learning rate: one step changes the weights by a large part of their size.",
            f"one step of the compiled {type(optimizer).__name__} (learning rate {rate:.3g}) on a "
            f"{'re-initialized ' if _steps(model) else ''}copy of the model moves the weights by "
            f"std(ΔW)/std(W) = {ratios.max():.2g} (largest layer; median {np.median(ratios):.2g}); "
            "a healthy step is about 1e-3.",
            "lower the learning rate, 3-10× at a time, until one step moves the weights by about 1e-3 to 1e-2 "
            "of their size",
            "05",
        )
    ]


# ------------------------------------------------------------------------------------------------------------
# Gradients: recurrent networks, and anything that blew up
# ------------------------------------------------------------------------------------------------------------


def _global_gradient_norm(model, x, y) -> float:
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(_loss_fn(model)(y, model(x, training=False)))
    grads = [g for g in tape.gradient(loss, model.trainable_variables) if g is not None]
    return float(np.sqrt(sum(np.sum(np.square(g.numpy(), dtype=np.float64)) for g in grads))) if grads else 0.0


def _recurrent_layers(model) -> list:
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]


def _recurrent(model, x, y) -> list[Finding]:
    from utils.clipping import clips

    rnns = _recurrent_layers(model)
    if not rnns or clips(model):
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
            "clip the gradients (optimizer global_clipnorm=1.0, chapter 05), or use tanh with a radius below 1",
            "05",
        )
    ]


def _not_finite(model, x, y, findings: list[Finding]) -> list[Finding]:
    """Report a NaN or infinite output or gradient, unless a finding already explains an explosion."""
    if any(f.key in ("exploding", "rnn_exploding", "unscaled_targets") for f in findings):
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
