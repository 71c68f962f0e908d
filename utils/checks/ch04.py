"""Checks for the chapter 04 exercises (``exercises/04_batch_normalization.ipynb``).

``q1``: BN's forward pass in training mode; ``q2``: one BN step in either mode, with Keras' moving averages,
checked against ``keras.layers.BatchNormalization``; ``q3``: the backward pass, checked by finite differences
and against TensorFlow; ``q4``: fix an evaluation that runs the model in training mode. Each is an
:class:`~utils.checks._core.Exercise`: ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.
"""

from __future__ import annotations

import functools

import numpy as np

from utils.batchnorm import (
    EPSILON,
    MISTAKES,
    MOMENTUM,
    batch_moments,
    batched_accuracy,
    batchnorm_backward,
    batchnorm_forward,
    gradient_check,
    keras_gradients,
    make_batches,
    mistaken_step,
    normalize,
    relative_error,
    run_keras,
    run_numpy,
)
from utils.checks._core import (
    Exercise,
    Mistake,
    Wrong,
    as_array,
    as_callable,
    as_float,
    call,
    close,
    name_mistake,
)
from utils.data import digits

KERAS_TOLERANCE = 1e-5  # Keras computes in float32: agreement within its rounding
FLOAT32_RTOL, FLOAT32_ATOL = 1e-5, 1e-6  # a float32 answer is right: it agrees with float64 to ~1e-7 relative
ACCURACY_TOLERANCE = 1e-6  # a float32 accuracy (keras.metrics) is off by ~1e-8; one example in 270 is 4e-3


def _three(result, names: str) -> tuple:
    """Return the three parts of a learner's result, or raise Wrong."""
    if not isinstance(result, tuple | list) or len(result) != 3:
        got = f"a {type(result).__name__}" + (f" of {len(result)} items" if isinstance(result, tuple | list) else "")
        raise Wrong(
            f"your function should return three things, {names}; it returned {got}.",
            f"End with `return {names}`.",
        )
    return tuple(result)


# ------------------------------------------------------------------------------------------------------------
# Exercise 1: the forward pass in training mode
# ------------------------------------------------------------------------------------------------------------


@functools.cache
def _q1_inputs():
    """A batch of 16 with 5 features on different scales, one with a tiny variance (where epsilon matters)."""
    rng = np.random.default_rng(4)
    x = rng.normal([3.0, -1.0, 0.0, 10.0, 0.5], [2.0, 0.5, 1.0, 4.0, 0.03], (16, 5))
    return x, rng.normal(1.0, 0.3, 5), rng.normal(0.0, 0.5, 5)


def _forward_giving(y):
    """Return a bn_forward_train whose mean and variance are right and whose output is ``y(x, gamma, beta)``."""

    def bn_forward_train(x, gamma, beta, epsilon=EPSILON):
        return (y(x, gamma, beta), *batch_moments(x))

    return bn_forward_train


def _x_hat(x, epsilon=EPSILON):
    mean, var = batch_moments(x)
    return (x - mean) / np.sqrt(var + epsilon)


def _by_row(x, gamma, beta):
    return gamma * (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + EPSILON) + beta


def _std_of(x):
    return np.sqrt(batch_moments(x)[1])


_Q1_MISTAKES = tuple(
    Mistake(_forward_giving(y), message, hint)
    for y, message, hint in (
        (
            lambda x, gamma, beta: normalize(x, x.mean(axis=0), x.var(axis=0, ddof=1), gamma, beta),
            "you normalized with the unbiased variance (divide by m − 1).",
            "BN uses the biased batch variance: np.mean((x - mean) ** 2, axis=0), or x.var(axis=0) (ddof=0).",
        ),
        (
            lambda x, gamma, beta: gamma * (x - x.mean(axis=0)) / (_std_of(x) + EPSILON) + beta,
            "ε is added outside the square root.",
            "Divide by np.sqrt(variance + epsilon): ε goes inside the square root, added to the variance.",
        ),
        (
            lambda x, gamma, beta: gamma * (x - x.mean(axis=0)) / _std_of(x) + beta,
            "ε is missing: a feature with zero variance would divide by 0.",
            "Divide by np.sqrt(variance + epsilon).",
        ),
        (
            lambda x, gamma, beta: _x_hat(x),
            "your output is x̂, before the scale γ and the shift β.",
            "Return gamma * x_hat + beta.",
        ),
        (
            lambda x, gamma, beta: beta * _x_hat(x) + gamma,
            "γ and β are swapped.",
            "γ scales (multiplies) x̂, β shifts (is added): gamma * x_hat + beta.",
        ),
        (
            _by_row,
            "you normalized each example (row) instead of each feature (column).",
            "Batch statistics are over the batch: x.mean(axis=0) and x.var(axis=0), one number per feature.",
        ),
        (
            lambda x, gamma, beta: gamma * (x - x.mean(axis=0)) / (batch_moments(x)[1] + EPSILON) + beta,
            "you divided by the variance, not by the standard deviation.",
            "Divide by np.sqrt(variance + epsilon).",
        ),
        (
            lambda x, gamma, beta: gamma * _x_hat(x, 1e-5) + beta,
            f"your ε is 1e-5 (PyTorch's default), not the function's argument epsilon = {EPSILON:g} (Keras').",
            "Use the parameter: np.sqrt(variance + epsilon), not a number typed in.",
        ),
    )
)


def _float32_close(got, expected) -> bool:
    return close(got, expected, rtol=FLOAT32_RTOL, atol=FLOAT32_ATOL)


def _check_forward_train(function) -> None:
    function = as_callable(function, "bn_forward_train")
    x, gamma, beta = _q1_inputs()
    given = x.copy()
    result = call(function, given, gamma.copy(), beta.copy(), EPSILON, what="`bn_forward_train(x, gamma, beta)`")
    _unchanged(given, x, "x")
    y, mean, variance = _three(result, "y, mean, variance")
    n, features = x.shape
    mean = np.asarray(mean)
    if mean.shape == (n,) or mean.shape == (n, 1):
        raise Wrong(
            "your mean has one number per example; BN computes one per feature.",
            "Average over the batch: x.mean(axis=0).",
        )
    mean = as_array(_per_feature(mean, features), "the mean", (features,))
    variance = as_array(_per_feature(variance, features), "the variance", (features,))
    y = as_array(y, "y", x.shape)
    right_mean, right_var = batch_moments(x)
    if close(mean, right_var, rtol=FLOAT32_RTOL, atol=1e-8) and close(variance, right_mean, rtol=FLOAT32_RTOL):
        raise Wrong("your mean and variance are swapped.", "Return them in this order: `return y, mean, variance`.")
    if not close(mean, right_mean, rtol=FLOAT32_RTOL, atol=FLOAT32_ATOL):
        raise Wrong("your batch mean is not the mean of each column of x.", "mean = x.mean(axis=0)")
    if close(variance, x.var(axis=0, ddof=1), rtol=FLOAT32_RTOL, atol=1e-8):
        raise Wrong(
            "your variance is the unbiased one (divide by m − 1); BN uses the biased one (divide by m).",
            "variance = np.mean((x - mean) ** 2, axis=0), which is x.var(axis=0) (numpy's default ddof=0).",
        )
    if close(variance, np.sqrt(right_var), rtol=FLOAT32_RTOL, atol=1e-8):
        raise Wrong(
            "you returned the standard deviation where the variance was asked.",
            "variance = np.mean((x - mean) ** 2, axis=0), without a square root.",
        )
    if not close(variance, right_var, rtol=FLOAT32_RTOL, atol=1e-8):
        raise Wrong(
            "your batch variance is not the biased variance of each column.",
            "variance = np.mean((x - mean) ** 2, axis=0)",
        )
    expected = normalize(x, right_mean, right_var, gamma, beta)
    if close(y, expected, rtol=FLOAT32_RTOL, atol=FLOAT32_ATOL):
        return
    name_mistake(y, (x, gamma, beta), _Q1_MISTAKES, compare=lambda got, answer: _float32_close(got, answer[0]))
    raise Wrong(
        "your mean and variance are right, but y is not γ · (x − mean) / √(variance + ε) + β.",
        "x_hat = (x - mean) / np.sqrt(variance + epsilon); y = gamma * x_hat + beta",
    )


def _unchanged(given: np.ndarray, original: np.ndarray, name: str) -> None:
    """Raise Wrong if the learner's function wrote into the array it was given."""
    if not np.array_equal(given, original):
        raise Wrong(
            f"your function changed its input {name} in place (e.g. `{name} -= mean`): the caller's array is lost.",
            f"Compute new arrays instead: `{name}_hat = ({name} - mean) / ...` leaves {name} as it was.",
        )


def _per_feature(values, features: int):
    """Return per-feature statistics kept with keepdims=True (shape (1, features)) flattened; others unchanged."""
    try:
        array = np.asarray(values)
    except Exception:  # noqa: BLE001 (as_array explains what it is)
        return values
    return array.reshape(features) if array.shape == (1, features) else values


def _demo_forward_train(function) -> None:
    x, gamma, beta = _q1_inputs()
    y = np.asarray(function(x.copy(), np.ones(5), np.zeros(5), EPSILON)[0])
    print(
        "On the check's batch, with γ = 1 and β = 0, each column of your output has mean",
        np.round(y.mean(axis=0), 3) + 0.0,
        "and std",
        np.round(y.std(axis=0), 3),
    )
    print("(the std is under 1 where the variance is small: √(σ² / (σ² + ε)))")


q1 = Exercise(
    name="the forward pass in training mode",
    checker=_check_forward_train,
    reference=(_forward_giving(lambda x, gamma, beta: gamma * _x_hat(x) + beta),),
    mistakes=_Q1_MISTAKES,
    hints=[
        "Statistics are per feature, over the batch: axis=0. The output has the shape of x.",
        "BN's variance is the biased one: np.mean((x - mean) ** 2, axis=0), which is x.var(axis=0).",
        "ε goes inside the square root: x_hat = (x - mean) / np.sqrt(variance + epsilon); then gamma * x_hat + beta.",
    ],
    on_pass=_demo_forward_train,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: one step, both modes, with the moving averages; checked against Keras
# ------------------------------------------------------------------------------------------------------------


@functools.cache
def _q2_setup():
    """Twenty batches of 16 far from (0, 1), gamma and beta away from 1 and 0, and Keras' run on them."""
    batches, x_test = make_batches(n_steps=20, batch_size=16, features=4, seed=3)
    rng = np.random.default_rng(5)
    gamma, beta = rng.normal(1.0, 0.3, 4), rng.normal(0.0, 0.3, 4)
    return batches, x_test, gamma, beta, run_keras(batches, x_test, gamma, beta)


def _updated_stats_in_training(x, gamma, beta, mm, mv, training):
    step = batchnorm_forward(x, gamma, beta, mm, mv, training=training)
    if not training:
        return step.y, mm, mv
    return normalize(x, step.moving_mean, step.moving_variance, gamma, beta), step.moving_mean, step.moving_variance


def _updates_in_inference(x, gamma, beta, mm, mv, training):
    step = batchnorm_forward(x, gamma, beta, mm, mv, training=training)
    if training:
        return step.y, step.moving_mean, step.moving_variance
    mean, var = batch_moments(x)
    return step.y, MOMENTUM * mm + (1 - MOMENTUM) * mean, MOMENTUM * mv + (1 - MOMENTUM) * var


def _moving_stats_in_training(x, gamma, beta, mm, mv, training):
    step = batchnorm_forward(x, gamma, beta, mm, mv, training=training)
    return normalize(x, mm, mv, gamma, beta), step.moving_mean, step.moving_variance


def _unbiased_update_only(x, gamma, beta, mm, mv, training):
    step = batchnorm_forward(x, gamma, beta, mm, mv, training=training)
    if not training:
        return step.y, mm, mv
    return step.y, step.moving_mean, MOMENTUM * mv + (1 - MOMENTUM) * x.var(axis=0, ddof=1)


def _pytorch_epsilon(x, gamma, beta, mm, mv, training):
    step = batchnorm_forward(x, gamma, beta, mm, mv, training=training)
    mean, var = batch_moments(x) if training else (mm, mv)
    return normalize(x, mean, var, gamma, beta, epsilon=1e-5), step.moving_mean, step.moving_variance


_Q2_HINTS = {
    "unbiased batch variance": "Use the biased variance, x.var(axis=0) (ddof=0), to normalize and in the update.",
    "epsilon outside the square root": "Divide by np.sqrt(variance + epsilon).",
    "momentum applied the PyTorch way": "Keras: new = momentum * moving + (1 - momentum) * batch, momentum 0.99.",
    "no running update": "In training mode, return momentum * moving_mean + (1 - momentum) * batch_mean "
    "(same for the variance), not the old values.",
    "batch statistics at inference": "If training is False, normalize with moving_mean and moving_variance.",
}
_UPDATES_IN_INFERENCE = Mistake(  # a run compares no averages after inference: checked on its own
    _updates_in_inference,
    "your function also updates the moving averages in inference mode.",
    "Only training mode updates them; in inference mode return them unchanged.",
)
_Q2_MISTAKES = tuple(
    Mistake(mistaken_step(mistake), f"{mistake}: {message}.", _Q2_HINTS[mistake])
    for mistake, message in MISTAKES.items()
) + (  # mistakes not in utils.batchnorm.MISTAKES
    Mistake(
        _unbiased_update_only,
        "your moving variance is updated with the unbiased batch variance (ddof=1, as PyTorch's running "
        "variance is); Keras updates it with the biased one, the one it normalizes with.",
        "Use x.var(axis=0) (ddof=0) in the update too.",
    ),
    Mistake(
        _pytorch_epsilon,
        f"your ε is 1e-5 (PyTorch's default), not the function's argument epsilon = {EPSILON:g} (Keras').",
        "Use the parameter: np.sqrt(variance + epsilon), not a number typed in.",
    ),
    Mistake(
        _updated_stats_in_training,
        "in training mode you normalized with the (just updated) moving averages.",
        "In training mode normalize with the batch's own mean and variance; the moving averages are only "
        "updated there, for later use in inference mode.",
    ),
    _UPDATES_IN_INFERENCE,
    Mistake(
        _moving_stats_in_training,
        "in training mode you normalized with the moving averages.",
        "Training mode uses the batch's statistics; inference mode uses the moving averages.",
    ),
)


def _learner_step(function):
    def step(x, gamma, beta, moving_mean, moving_variance, training):
        result = call(
            function,
            x.copy(),
            gamma.copy(),
            beta.copy(),
            np.array(moving_mean, copy=True),
            np.array(moving_variance, copy=True),
            training,
            what="`bn_step(...)`",
        )
        y, mm, mv = _three(result, "y, new_moving_mean, new_moving_variance")
        what = "training" if training else "inference"
        return (
            as_array(y, f"y ({what} mode)", x.shape),
            as_array(mm, f"the moving mean ({what} mode)", _features(x)),
            as_array(mv, f"the moving variance ({what} mode)", _features(x)),
        )

    return step


def _features(x) -> tuple[int]:
    return (x.shape[1],)


def _check_step(function) -> None:
    function = as_callable(function, "bn_step")
    batches, x_test, gamma, beta, keras_run = _q2_setup()
    run = run_numpy(batches, x_test, gamma, beta, step=_learner_step(function))
    differences = run.max_difference(keras_run)
    if max(differences.values()) < KERAS_TOLERANCE:
        _check_inference_keeps_the_averages(function, batches[0], gamma, beta)
        return
    name_mistake(
        run, (), _Q2_MISTAKES, compare=_same_run, run=lambda step: run_numpy(batches, x_test, gamma, beta, step=step)
    )
    wrong = [name for name, d in differences.items() if d >= KERAS_TOLERANCE]
    raise Wrong(
        f"over 20 training steps and one inference call, your {', '.join(wrong)} differ from "
        f"keras.layers.BatchNormalization's (largest difference {max(differences.values()):.2g}).",
        "Training mode: normalize with the batch's mean and biased variance, and update each moving average "
        "as momentum * moving + (1 - momentum) * batch. Inference mode: normalize with the moving averages, "
        "and return them unchanged.",
    )


def _reference_step(x, gamma, beta, moving_mean, moving_variance, training):
    step = batchnorm_forward(x, gamma, beta, moving_mean, moving_variance, training=training)
    return step.y, step.moving_mean, step.moving_variance


def _check_inference_keeps_the_averages(function, x, gamma, beta) -> None:
    """Raise the mistake's Wrong when an inference-mode call returns moving averages other than those it was given."""
    averages = np.full(x.shape[1], 0.5), np.full(x.shape[1], 2.0)
    _, mean, variance = _learner_step(function)(x, gamma, beta, *averages, False)
    if not (close(mean, averages[0]) and close(variance, averages[1])):
        raise _UPDATES_IN_INFERENCE.wrong()


def _same_run(a, b) -> bool:
    return max(a.max_difference(b).values()) < KERAS_TOLERANCE / 5  # float32 answers too


def _demo_step(function) -> None:
    print(
        "Your layer and keras.layers.BatchNormalization agree within 1e-5 (float32) over 20 training steps "
        "(outputs, moving mean and variance) and an inference-mode call."
    )


q2 = Exercise(
    name="a BN step in both modes, with Keras' moving averages",
    checker=_check_step,
    reference=(_reference_step,),
    mistakes=_Q2_MISTAKES,
    hints=[
        "Two branches: `if training:` use the batch's mean and variance (and update the moving averages); "
        "`else:` use moving_mean and moving_variance and return them unchanged.",
        "Keras' update: new_moving = momentum * moving + (1 - momentum) * batch_statistic, momentum = 0.99 "
        "(the weight of the OLD average), with the biased batch variance.",
        "Normalize like exercise 1 in both modes: gamma * (x - mean) / np.sqrt(variance + epsilon) + beta.",
    ],
    on_pass=_demo_step,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 3: the backward pass, checked by finite differences and against TensorFlow
# ------------------------------------------------------------------------------------------------------------


@functools.cache
def _q3_inputs():
    rng = np.random.default_rng(6)
    return rng.normal(size=(8, 5)), rng.normal(1.0, 3.0, (8, 5)), rng.normal(1.0, 0.5, 5)  # dy, x, gamma


def _q3_reference(dy, x, gamma):
    step = batchnorm_forward(x, gamma, np.zeros_like(gamma), 0 * gamma, 1 + 0 * gamma, training=True)
    return batchnorm_backward(dy, step.cache)


def _backward_giving(name: str, value):
    """Return a bn_backward that is right but for its ``name`` output, which is ``value(dy, x, gamma)``."""

    def bn_backward(dy, x, gamma, epsilon=EPSILON):
        grads = dict(zip(_GRADIENTS, _q3_reference(dy, x, gamma), strict=True))
        return tuple(value(dy, x, gamma) if key == name else grads[key] for key in _GRADIENTS)

    return bn_backward


def _inv_std(x):
    return 1 / np.sqrt(batch_moments(x)[1] + EPSILON)


_GRADIENTS = ("dx", "dgamma", "dbeta")
_DX_HINT = "x enters y directly and through the batch mean and variance: "
_Q3_MISTAKES = {
    name: tuple(Mistake(_backward_giving(name, value), message, hint) for value, message, hint in mistakes)
    for name, mistakes in {
        "dx": (
            (
                lambda dy, x, gamma: gamma * dy * _inv_std(x),
                "your dx treats the batch mean and variance as constants.",
                _DX_HINT + "dx = gamma * inv_std * (dy - dy.mean(0) - x_hat * (dy * x_hat).mean(0)).",
            ),
            (
                lambda dy, x, gamma: _q3_reference(dy, x, gamma)[0] / gamma,
                "your dx is missing the factor γ.",
                "y = γ x̂ + β, so ∂loss/∂x̂ = γ · dy.",
            ),
            (
                lambda dy, x, gamma: gamma * _inv_std(x) * (dy - dy.mean(0)),
                "your dx misses the term that comes through the variance.",
                "Add − x_hat * (dy * x_hat).mean(axis=0) inside the parentheses.",
            ),
            (
                lambda dy, x, gamma: -_q3_reference(dy, x, gamma)[0],
                "your dx has the wrong sign.",
                "Check the signs of the mean terms.",
            ),
        ),
        "dgamma": (
            (
                lambda dy, x, gamma: np.sum(dy * x, axis=0),
                "your dgamma uses x instead of x̂.",
                "dgamma = np.sum(dy * x_hat, axis=0)",
            ),
            (
                lambda dy, x, gamma: np.mean(dy * _x_hat(x), axis=0),
                "your dgamma is a mean over the batch, it should be a sum.",
                "dgamma = np.sum(dy * x_hat, axis=0): every example's contribution adds up.",
            ),
        ),
        "dbeta": (
            (
                lambda dy, x, gamma: np.mean(dy, axis=0),
                "your dbeta is a mean over the batch, it should be a sum.",
                "dbeta = np.sum(dy, axis=0)",
            ),
            (
                lambda dy, x, gamma: np.sum(dy * _x_hat(x), axis=0),
                "your dbeta is dgamma's formula.",
                "dbeta = np.sum(dy, axis=0)",
            ),
        ),
    }.items()
}


def _check_backward(function) -> None:
    function = as_callable(function, "bn_backward")
    dy, x, gamma = _q3_inputs()
    given_dy, given_x = dy.copy(), x.copy()
    result = call(function, given_dy, given_x, gamma.copy(), EPSILON, what="`bn_backward(dy, x, gamma)`")
    _unchanged(given_dy, dy, "dy")
    _unchanged(given_x, x, "x")
    answer = [_per_feature(v, x.shape[1]) if i else v for i, v in enumerate(_three(result, "dx, dgamma, dbeta"))]
    shapes = {"dx": x.shape, "dgamma": gamma.shape, "dbeta": gamma.shape}
    for name, value in zip(shapes, answer, strict=True):
        if name != "dx" and np.shape(value) == (len(x),):
            raise Wrong(
                f"your {name} has one number per example ({len(x)}); it should have one per feature "
                f"({x.shape[1]}): you summed over the features (axis=1).",
                f"Sum over the batch, axis=0: {name} = np.sum(..., axis=0).",
            )
    answer = {name: as_array(value, name, shapes[name]) for name, value in zip(shapes, answer, strict=True)}
    expected = dict(zip(shapes, _q3_reference(dy, x, gamma), strict=True))
    if close(answer["dgamma"], expected["dbeta"], rtol=FLOAT32_RTOL, atol=FLOAT32_ATOL) and close(
        answer["dbeta"], expected["dgamma"], rtol=FLOAT32_RTOL, atol=FLOAT32_ATOL
    ):
        raise Wrong("your dgamma and dbeta are swapped.", "Return them in this order: `return dx, dgamma, dbeta`.")
    for name in ("dgamma", "dbeta", "dx"):
        if _float32_close(answer[name], expected[name]):
            continue
        index = _GRADIENTS.index(name)
        name_mistake(
            answer[name],
            (dy, x, gamma),
            _Q3_MISTAKES[name],
            compare=lambda got, grads, index=index: _float32_close(got, grads[index]),
        )
        error = relative_error(answer[name], expected[name])
        raise Wrong(
            f"your {name} differs from the finite-difference gradient (relative error {error:.2g}).",
            "Derive it with the chain rule through x̂ = (x − μ) / √(σ² + ε); section 2 of the chapter "
            "gives the three formulas.",
        )
    errors = gradient_check(lambda dy_, x_, g_, eps: call(function, dy_, x_, g_, eps), n=6, features=3, seed=7)
    if max(errors.values()) > FLOAT32_RTOL:
        raise Wrong(
            f"your gradients agree on the check's first batch but not on a second one ({errors}).",
            "Do not rely on a particular batch size or number of features: use axis=0 and x.shape.",
        )


def _demo_backward(function) -> None:
    errors = gradient_check(lambda *args: function(*args), seed=8)
    dy, x, gamma = _q3_inputs()
    tf_error = max(
        relative_error(a, b)
        for a, b in zip(function(dy, x, gamma, EPSILON), keras_gradients(x, dy, gamma), strict=True)
    )
    finite = "below 1e-8" if max(errors.values()) < 1e-8 else "above 1e-8"
    tensorflow = "below 1e-10" if tf_error < 1e-10 else "above 1e-10"
    print(
        f"Relative error against finite differences (float64): {finite};"
        f" against TensorFlow's gradient through a float64 Keras layer: {tensorflow}."
    )


q3 = Exercise(
    name="the backward pass",
    checker=_check_backward,
    reference=(_backward_giving("dx", lambda dy, x, gamma: _q3_reference(dy, x, gamma)[0]),),
    mistakes=_Q3_MISTAKES["dx"] + _Q3_MISTAKES["dgamma"] + _Q3_MISTAKES["dbeta"],
    hints=[
        "Recompute the forward quantities first: mean, variance, inv_std = 1 / np.sqrt(variance + epsilon) and x_hat.",
        "dbeta = np.sum(dy, axis=0) and dgamma = np.sum(dy * x_hat, axis=0): sums over the batch.",
        "dx = gamma * inv_std * (dy - dy.mean(axis=0) - x_hat * (dy * x_hat).mean(axis=0)): "
        "the two mean terms come from x's effect on the batch mean and on the batch variance.",
    ],
    on_pass=_demo_backward,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 4: an evaluation that runs in training mode
# ------------------------------------------------------------------------------------------------------------


def q4_model():
    """Return a small BN network for the digits, with fixed weights (no Keras random generator, no ``fit``).

    Random ReLU features with BN, moving averages set to the training set's statistics, and an output layer
    fitted by ridge regression: good enough (about 0.9 accuracy) to make evaluation mistakes visible, and fast.
    """
    import keras

    from utils.models import build_mlp

    splits = digits()
    model = build_mlp(2, 128, "relu", batch_norm=True, name="q4_model")
    rng = np.random.default_rng(9)
    h = splits.X_train
    for layer in model.layers[:-1]:
        if isinstance(layer, keras.layers.Dense):
            layer.kernel.assign(
                rng.normal(0, np.sqrt(2 / layer.kernel.shape[0]), layer.kernel.shape).astype(np.float32)
            )
        if isinstance(layer, keras.layers.BatchNormalization):
            mean, var = batch_moments(h)
            layer.moving_mean.assign(mean.astype(np.float32))
            layer.moving_variance.assign(var.astype(np.float32))
        h = np.asarray(layer(h, training=False))
    targets = np.eye(10)[splits.y_train] - 0.1
    design = np.hstack([h, np.ones((len(h), 1))])
    weights = np.linalg.solve(design.T @ design + np.eye(design.shape[1]), design.T @ targets)  # ridge, λ = 1
    model.layers[-1].set_weights([weights[:-1].astype(np.float32), weights[-1].astype(np.float32)])
    return model


@functools.cache
def _q4_reference():
    splits = digits()
    model = q4_model()
    X, y = splits.X_test, splits.y_test
    inference = batched_accuracy(model, X, y, batch_size=len(X), training=False)
    training = batched_accuracy(model, X, y, batch_size=8, training=True)
    return model, inference, training


def _check_evaluation(function) -> None:
    function = as_callable(function, "evaluate_accuracy")
    model, inference, training = _q4_reference()
    X, y = digits().X_test, digits().y_test
    accuracy = _accuracy(function, model, X, y, 8)
    n = len(X)
    if 1 < accuracy <= 100 and abs(accuracy / 100 - inference) < ACCURACY_TOLERANCE:
        raise Wrong("you returned a percentage.", "Return a fraction between 0 and 1: correct / len(X).")
    if abs(accuracy - inference * n) < 0.5:
        raise Wrong("you returned the number of correct predictions.", "Divide by the number of examples, len(X).")
    if accuracy in (0.0, 1.0) and 0 < inference < 1:
        raise Wrong(
            f"your function gives exactly {accuracy:g}: an integer division (correct // len(X)) or int(...) "
            "rounds the fraction away.",
            "Divide with /, not //: correct / len(X).",
        )
    if abs(accuracy - training) < ACCURACY_TOLERANCE:
        raise Wrong("this is the training-mode accuracy.", "Call the model with training=False.")
    if abs(accuracy - inference) > ACCURACY_TOLERANCE:
        count = accuracy * n
        reference = f"inference-mode accuracy is {inference:.4f} ({round(inference * n)} of {n} examples right)"
        if abs(count - round(count)) > 1e-6 * n:  # no whole number of right answers: a mean of batch means
            raise Wrong(
                f"on the check's model your function gives {accuracy:.4f}, which is no whole number of right "
                f"answers out of {n} examples; {reference}. An average of per-batch accuracies gives such a "
                "number: the short last batch weighs as much as a full one.",
                "Count the correct predictions over all batches (correct += ...), then divide by len(X) once, "
                "at the end.",
            )
        raise Wrong(
            f"on the check's model your function gives {accuracy:.4f} ({round(count)} of {n} examples right); "
            f"{reference}.",
            "Predict each batch with model(x_batch, training=False), take the argmax over the classes "
            "(axis=1), and count the matches with y over all batches.",
        )
    X_other, y_other = digits().X_valid[:24], digits().y_valid[:24]
    other = _accuracy(function, model, X_other, y_other, 1)
    whole = batched_accuracy(model, X_other, y_other, batch_size=len(X_other), training=False)
    if abs(other - whole) <= ACCURACY_TOLERANCE:
        return
    if abs(other - inference) <= ACCURACY_TOLERANCE:
        raise Wrong(
            f"on 24 other digits your function still gives {other:.4f}, the accuracy on the notebook's test set: "
            "it does not compute from its arguments X and y (it uses the notebook's variables, or a number "
            "typed in).",
            "Inside the function, use only its parameters model, X, y and batch_size.",
        )
    raise Wrong(
        f"on 24 other digits with batch_size=1 your function gives {other:.4f}, the model's accuracy there is "
        f"{whole:.4f}: your result depends on the batch size.",
        "Count correct predictions over all batches, then divide by len(X) once at the end.",
    )


def _accuracy(function, model, X, y, batch_size: int) -> float:
    """Return the learner's accuracy on (X, y), or raise Wrong if their code changed the model's moving averages.

    The model is shared by every call of the check: whatever the learner's code does to it (a training-mode
    call, ``model.trainable = False``, even ``fit``), its weights and flags are put back afterwards.
    """
    moving = [
        v for layer in model.layers if hasattr(layer, "moving_mean") for v in (layer.moving_mean, layer.moving_variance)
    ]
    before = [v.numpy().copy() for v in moving]
    variables = list(model.variables)
    saved = [v.numpy().copy() for v in variables]
    flags = (model.trainable, [layer.trainable for layer in model.layers])
    try:
        result = call(
            function, model, X.copy(), y.copy(), batch_size, what=f"`evaluate_accuracy(model, X, y, {batch_size})`"
        )
        changed = any(not np.array_equal(b, v.numpy()) for b, v in zip(before, moving, strict=True))
    finally:
        model.trainable = flags[0]
        for layer, trainable in zip(model.layers, flags[1], strict=True):
            layer.trainable = trainable
        for variable, value in zip(variables, saved, strict=True):
            variable.assign(value)
    if changed:
        raise Wrong(
            "evaluating changed the model's moving averages: it ran the model in training mode, which "
            "normalizes each batch with its own statistics and updates the moving averages.",
            "Call the model with training=False (or model.predict): inference mode.",
        )
    return as_float(result, "the accuracy")


def _demo_evaluation(function) -> None:
    _, inference, training = _q4_reference()
    print(
        f"On the check's model: your evaluation gives {inference:.3f} for any batch size; "
        f"the buggy one gave {training:.3f} with batches of 8, and changed the moving averages doing so."
    )


q4 = Exercise(
    name="evaluate in inference mode",
    checker=_check_evaluation,
    hints=[
        "Which mode does `model(x, training=True)` run BN in, and what does a training-mode call do "
        "to the moving averages?",
        "Evaluation must use inference mode: model(x_batch, training=False), model(x_batch) or model.predict.",
    ],
    on_pass=_demo_evaluation,
)
