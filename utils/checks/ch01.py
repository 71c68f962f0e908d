"""Checks for the chapter 01 exercises (``exercises/01_vanishing_exploding_gradients.ipynb``).

``q1``: the logistic function's derivative; ``q2``: its maximum and what 10 sigmoid layers do to a
gradient; ``q3``: per-layer kernel gradient norms of a Keras model with ``GradientTape``; ``q4``: a weight
scale that keeps a 30-layer tanh network healthy. Each is an :class:`~utils.checks._core.Exercise`:
``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np

from utils.activations import sigmoid, sigmoid_grad, tanh_grad
from utils.checks._core import (
    Exercise,
    Mistake,
    Wrong,
    against_reference,
    as_array,
    as_callable,
    as_float,
    call,
    close,
    elementwise,
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 1: the logistic function's derivative
# ------------------------------------------------------------------------------------------------------------

Q1_GRID = np.linspace(-10, 10, 81)  # contains z = 0, where the slope peaks


_Q1_MISTAKES = (
    Mistake(
        sigmoid,
        "this is the logistic function σ(z) itself, not its derivative.",
        "Differentiate it: σ'(z) = σ(z) · (1 − σ(z)).",
    ),
    Mistake(
        tanh_grad,
        "this is the derivative of tanh, 1 − tanh²(z) (largest value 1), not of the logistic function.",
        "The logistic function is σ(z) = 1 / (1 + exp(−z)); its derivative is σ(z) · (1 − σ(z)).",
    ),
    Mistake(
        lambda z: z * (1 - z),
        "you computed z · (1 − z): the formula s · (1 − s) needs s = σ(z), not z.",
        "Compute s = 1 / (1 + np.exp(-z)) first, then return s * (1 - s).",
    ),
    Mistake(
        lambda z: np.exp(-z) / (1 + np.exp(-z)),
        "you computed exp(−z) / (1 + exp(−z)): the denominator must be squared.",
        "σ'(z) = exp(−z) / (1 + exp(−z))², which is the same as σ(z) · (1 − σ(z)).",
    ),
    Mistake(
        lambda z: -sigmoid_grad(z),
        "your values are negative: the logistic function increases everywhere, so its slope is positive.",
        "Check the sign: σ'(z) = σ(z) · (1 − σ(z)) > 0.",
    ),
)


def _off_at_worst(values, expected, args) -> Wrong:
    (z,) = args
    worst = int(np.argmax(np.abs(values - expected)))
    return Wrong(
        f"at z = {z[worst]:g} your function gives {values[worst]:.4g}, the derivative is {expected[worst]:.4g}.",
        "σ'(z) = σ(z) · (1 − σ(z)) with σ(z) = 1 / (1 + exp(−z)); test your function at z = 0, where it is 0.25.",
    )


def _check_logistic_derivative(function) -> None:
    against_reference(
        as_callable(function, "logistic_derivative"),
        sigmoid_grad,
        [(Q1_GRID,)],
        _Q1_MISTAKES,
        run=lambda f, z: elementwise(f, z, what="`logistic_derivative(z)`"),
        compare=lambda got, expected: close(got, expected, rtol=1e-4, atol=1e-7),
        mistaken=lambda got, expected: close(got, expected, rtol=1e-3, atol=1e-6),
        otherwise=_off_at_worst,
    )


q1 = Exercise(
    name="the logistic derivative",
    checker=_check_logistic_derivative,
    reference=(sigmoid_grad,),
    mistakes=_Q1_MISTAKES,
    hints=[
        "The logistic function is σ(z) = 1 / (1 + exp(−z)); its derivative can be written with σ itself.",
        "σ'(z) = σ(z) · (1 − σ(z)). Compute s = 1 / (1 + np.exp(-z)) first.",
        "Use numpy (np.exp), so that z may be an array: `s = 1 / (1 + np.exp(-z))`, then `return s * (1 - s)`.",
    ],
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 2: the largest slope, and the best case through 10 sigmoid layers
# ------------------------------------------------------------------------------------------------------------

MAX_SLOPE = 0.25
DEPTH_Q2 = 10


def _check_max_slope(max_slope, z_at_max, best_case_10) -> None:
    slope = as_float(max_slope, "max_slope")
    where = as_float(z_at_max, "z_at_max")
    best = as_float(best_case_10, "best_case_10")
    _check_order(slope, where, best)
    _check_slope(slope)
    if abs(where) > 0.1:
        if where == round(where) and where >= 1:
            raise Wrong(
                f"z_at_max = {where:g} looks like an index (np.argmax returns a position in the array), "
                "not a value of z.",
                "Look the value up in the grid: z_at_max = z[np.argmax(slopes)].",
            )
        if abs(where - 0.5) < 0.01:
            raise Wrong(
                "z_at_max = 0.5 is σ's value at its steepest point, σ(0) = 0.5, not the z where that point is.",
                "z_at_max is a position on the z axis: z[np.argmax(slopes)].",
            )
        if abs(where - MAX_SLOPE) < 0.01:
            raise Wrong(
                f"z_at_max = {where:g} is the largest slope's value, not where it is.",
                "z_at_max is a position on the z axis: z[np.argmax(slopes)].",
            )
        raise Wrong(
            f"z_at_max = {where:g}, but the logistic function is steepest elsewhere.",
            "It is steepest at its center, where σ(z) = 0.5: use z[np.argmax(...)] on a grid that contains it.",
        )
    _check_best_case(best)


def _check_order(slope: float, where: float, best: float) -> None:
    """Raise Wrong when the three answers are the right values in another order (e.g. the bound passed first)."""
    expected = {"max_slope": MAX_SLOPE, "z_at_max": 0.0, "best_case_10": MAX_SLOPE**DEPTH_Q2}

    def names(value):
        return {n for n, e in expected.items() if abs(value - e) <= max(2e-3 * (n != "best_case_10"), 0.03 * e)}

    values = (slope, where, best)
    fits = [all(n in names(v) for n, v in zip(order, values, strict=True)) for order in permutations(expected)]
    if any(fits[1:]) and not fits[0]:  # permutations() yields the right order first
        raise Wrong(
            "your three values are right, but not in the order the check takes them.",
            "Pass them as ch01.q2.check(max_slope, z_at_max, best_case_10).",
        )


def _check_slope(slope: float) -> None:
    if abs(slope - MAX_SLOPE) <= 2e-3:
        return
    if abs(slope - 0.5) < 0.01:
        raise Wrong(
            "max_slope = 0.5 is σ(0), the function's value at its steepest point, not its slope there.",
            "Take the maximum of logistic_derivative(z), not of the logistic function.",
        )
    if 0.9 < slope < 1 - 1e-6:
        raise Wrong(
            f"max_slope = {slope:.4g} is the largest value of the logistic function itself (reached at the grid's "
            "edge), not of its slope.",
            "Take the maximum of logistic_derivative(z), not of the logistic function.",
        )
    if abs(slope - 1.0) < 0.01:
        raise Wrong(
            "max_slope = 1 is tanh's largest slope, not the logistic function's.",
            "Check your logistic_derivative with ch01.q1.check first, then take its maximum.",
        )
    if slope < MAX_SLOPE:
        raise Wrong(
            f"max_slope = {slope:.4g} is a bit low: your grid misses the steepest point.",
            "Use a fine grid that contains z = 0, e.g. np.linspace(-6, 6, 1201), and take the largest value.",
        )
    raise Wrong(
        f"max_slope = {slope:.4g}, but no slope of the logistic function is that steep.",
        "Run ch01.q1.check(logistic_derivative): your derivative may be wrong.",
    )


def _check_best_case(best: float) -> None:
    expected = MAX_SLOPE**DEPTH_Q2
    if close(best, expected, rtol=0.03, atol=0):
        return
    if abs(best - MAX_SLOPE * DEPTH_Q2) < 0.05:
        raise Wrong(
            f"best_case_10 = {best:g} = 0.25 × 10: the factors multiply, they do not add up.",
            "Each layer multiplies the gradient by at most 0.25, so 10 layers multiply it by 0.25 ** 10.",
        )
    for power in (DEPTH_Q2 - 1, DEPTH_Q2 + 1):
        if close(best, MAX_SLOPE**power, rtol=0.03, atol=0):
            raise Wrong(
                f"best_case_10 = 0.25 ** {power}: one factor too {'few' if power < DEPTH_Q2 else 'many'}.",
                "Count the activations the gradient passes through: 10 layers, 10 factors of at most 0.25.",
            )
    if best > 1:
        raise Wrong(
            f"best_case_10 = {best:.3g} is larger than 1: a gradient that passes through sigmoid layers shrinks.",
            "Each factor is at most 0.25 < 1, so their product is tiny: 0.25 ** 10.",
        )
    raise Wrong(
        f"best_case_10 = {best:.3g}, expected about {expected:.3g}.",
        "The best case is every unit at its steepest point: max_slope ** 10.",
    )


def _demo_max_slope(max_slope, z_at_max, best_case_10) -> None:
    """Compare the bound with the mean slopes measured in a freshly initialized 10-layer sigmoid MLP."""
    from utils import nets
    from utils.blas import single_blas_thread
    from utils.mlp import init_mlp  # the float32 draws the solutions notebook's printed numbers come from

    products, means = [], []
    for seed in range(3):
        mlp = init_mlp([64] + [100] * DEPTH_Q2 + [10], "sigmoid", seed=seed)
        x = np.random.default_rng(seed).standard_normal((256, 64), dtype=np.float32)
        with single_blas_thread():  # small products: extra threads only wait on a busy CPU
            zs = nets.forward(mlp, x).pre
        slopes = [float(sigmoid_grad(z).mean()) for z in zs[:-1]]
        means += slopes
        products.append(float(np.prod(slopes)))
    best = float(best_case_10)
    print(
        f"Measured in a 10-layer sigmoid MLP (LeCun init, 3 seeds): the mean slope per layer is "
        f"{min(means):.2f}..{max(means):.2f},\nand the product over the 10 layers is "
        f"{min(products):.2g}..{max(products):.2g}, under your bound {best:.2g}."
    )


q2 = Exercise(
    name="the largest slope and the 10-layer bound",
    checker=_check_max_slope,
    hints=[
        "Evaluate logistic_derivative on the fine grid z; "
        "the largest value is np.max(...), its place z[np.argmax(...)].",
        "Backpropagation multiplies the gradient by σ'(z) once per layer: 10 layers, 10 factors of at most max_slope.",
        "best_case_10 = max_slope ** 10.",
    ],
    on_pass=_demo_max_slope,
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 3: per-layer kernel gradient norms with GradientTape
# ------------------------------------------------------------------------------------------------------------

Q3_ARCHITECTURES = ((8, 32), (3, 16))  # (depth, width): two models, so that a hard-coded answer fails
Q3_PLAIN_SOFTMAX = (False, True)  # the second model's softmax hides no logits: from_logits=True shows there
Q3_BATCH_STARTS = (0, 128)  # the notebook's batch (X_train[:128]) for the first model, another one for the second


def _q3_batch(n: int = 128, start: int = 0):
    """Return ``n`` training digits from ``start`` (0: the batch the exercise's notebook defines as x, y)."""
    from utils.data import digits

    splits = digits()
    return splits.X_train[start : start + n], splits.y_train[start : start + n]


def q3_model(depth: int = 8, width: int = 32, seed: int = 1, plain_softmax: bool = False):
    """Return a sigmoid MLP for the digits with fixed weights (from ``seed``, not from Keras' generator).

    With ``plain_softmax`` its last layer applies ``tf.nn.softmax`` instead of Keras' softmax. Keras' TensorFlow
    backend hides the logits behind its own softmax's output, and a loss told ``from_logits=True`` quietly uses
    them, so that mistake goes unseen on a Keras softmax; on a plain one (as on any other backend) it shows.
    """
    from utils.models import build_mlp

    model = build_mlp(depth, width, "sigmoid", name=f"q3_{depth}x{width}")
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kernel, bias = layer.get_weights()
        std = np.sqrt(2 / sum(kernel.shape))  # Glorot's variance
        new_kernel = rng.normal(0, std, kernel.shape).astype(np.float32)
        layer.set_weights([new_kernel, rng.normal(0, 0.1, bias.shape).astype(np.float32)])
    if plain_softmax:
        model.layers[-1].activation = _plain_softmax
    return model


def _plain_softmax(z):
    """Return softmax(z) without the logits Keras' own softmax attaches to its output."""
    import tensorflow as tf

    return tf.nn.softmax(z)


def _right_norms(model, x, y) -> np.ndarray:
    """Return the per-layer kernel gradient norms as the course's diagnostics compute them."""
    import keras

    from utils.diagnostics import keras_layer_stats

    return keras_layer_stats(model, x, y, keras.losses.SparseCategoricalCrossentropy()).grad_norm


def _gradients(model, x, y, of: str = "kernel", **loss_options) -> list[np.ndarray]:
    """Return the loss gradient for each layer's ``of`` (kernel or bias), the loss built with ``loss_options``."""
    import keras
    import tensorflow as tf

    variables = [getattr(layer, of) for layer in model.layers]
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(**loss_options)(y, model(x))
    return [g.numpy() for g in tape.gradient(loss, variables)]


def _per_layer(reduce=np.linalg.norm, **options):
    """Return a (wrong) layer_gradient_norms that reduces each layer's gradient with ``reduce``."""
    return lambda model, x, y: np.array([reduce(g) for g in _gradients(model, x, y, **options)])


_Q3_MISTAKES = (
    Mistake(
        lambda model, x, y: _right_norms(model, x, y)[::-1],
        "your norms are in the reverse order.",
        "List the layers from the lowest (next to the input) to the output layer, as model.layers does.",
    ),
    Mistake(
        _per_layer(of="bias"),
        "these are the norms of the bias gradients.",
        "Take the gradient with respect to each layer's kernel (layer.kernel), not its bias.",
    ),
    Mistake(
        _per_layer(np.std),
        "these are the standard deviations of the kernel gradients, not their norms.",
        "The norm is sqrt(sum of squares): tf.norm(g) or np.linalg.norm(g), not np.std(g).",
    ),
    Mistake(
        _per_layer(lambda g: np.mean(np.abs(g))),
        "these are the mean absolute values of the kernel gradients, not their norms.",
        "The norm is sqrt(sum of squares): tf.norm(g) or np.linalg.norm(g).",
    ),
    Mistake(
        _per_layer(lambda g: np.sum(g**2)),
        "these are the squared norms.",
        "Take the square root of the sum of squares: tf.norm(g) or np.linalg.norm(g).",
    ),
    Mistake(
        lambda model, x, y: np.array([np.linalg.norm(layer.kernel.numpy()) for layer in model.layers]),
        "these are the norms of the kernels themselves, not of their gradients.",
        "Use tape.gradient(loss, kernels) and take the norms of what it returns.",
    ),
    Mistake(
        _per_layer(reduction="sum"),
        "your norms are batch-size times too large: the loss was summed over the batch, not averaged.",
        "Use keras.losses.SparseCategoricalCrossentropy() with its default (mean) reduction.",
    ),
    Mistake(  # Keras warns about from_logits=True on its own softmax: Mistake.gives silences it
        _per_layer(from_logits=True),
        "your loss treats the model's outputs as logits (from_logits=True), but this model ends with a softmax: "
        "its outputs are already probabilities, so the loss applies a second softmax. (Keras' TensorFlow backend "
        "quietly undoes this for its own softmax layer, with a warning; the check's second model uses "
        "tf.nn.softmax, where nothing does.)",
        "Keep the default from_logits=False for a model whose last layer applies softmax: "
        "keras.losses.SparseCategoricalCrossentropy()(y, model(x)). from_logits=True is for a last layer with "
        "no activation.",
    ),
)


def _q3_cases():
    """Yield (model, x, y): the check's two models, each with its batch."""
    for (depth, width), start, plain in zip(Q3_ARCHITECTURES, Q3_BATCH_STARTS, Q3_PLAIN_SOFTMAX, strict=True):
        yield (q3_model(depth, width, plain_softmax=plain), *_q3_batch(start=start))


def _close_norms(got, expected) -> bool:
    return close(got, expected, rtol=1e-3, atol=1e-9)


def _norms_differ(norms, expected, args) -> Wrong:
    model, x, _ = args
    if not np.array_equal(x, _q3_batch()[0]) and _close_norms(norms, _right_norms(model, *_q3_batch())):
        return Wrong(
            "your norms are those of the notebook's batch (x, y = the first 128 training digits), not of the "
            "batch the check passed: your function uses the notebook's variables instead of its arguments.",
            "Inside the function, use only its parameters model, x and y (rename them if they clash with the "
            "notebook's), so that it works for any model and batch.",
        )
    if len(set(np.round(np.asarray(norms), 12))) == 1:
        return Wrong("every layer got the same number.", "Compute one norm per layer, in a loop.")
    return Wrong(
        f"on a {len(model.layers) - 1}-layer sigmoid model, your norms {_fmt(norms)} differ from "
        f"keras_layer_stats' {_fmt(expected)}.",
        "Compute the loss inside the tape: keras.losses.SparseCategoricalCrossentropy()(y, model(x)); "
        "then tape.gradient(loss, [layer.kernel for layer in model.layers]). Use the function's own model, "
        "x and y, not the notebook's.",
    )


def _check_gradient_norms(function) -> None:
    against_reference(
        as_callable(function, "layer_gradient_norms"),
        _right_norms,
        _q3_cases(),
        _Q3_MISTAKES,
        run=lambda f, model, x, y: _as_norms(
            call(f, model, x.copy(), y.copy(), what="`layer_gradient_norms(model, x, y)`"), model
        ),
        compare=_close_norms,
        otherwise=_norms_differ,
    )


def _as_norms(result, model) -> np.ndarray:
    """Return the learner's result as one number per layer, or raise Wrong saying what its shape means."""
    n_layers = len(model.layers)
    if isinstance(result, str):
        raise Wrong(
            "layer_gradient_norms returned text; it should return one number per layer.",
            "Return the numbers themselves, not a printed or formatted string of them.",
        )
    if isinstance(result, dict):
        raise Wrong(
            "layer_gradient_norms returned a dict; return a list or array, one number per layer.",
            "Keep the norms in layer order: `return np.array([float(tf.norm(g)) for g in grads])`.",
        )
    try:
        items = list(result)
    except TypeError:
        raise Wrong(
            "layer_gradient_norms returned a single number.",
            "Return one norm per layer (a list or an array), not one norm over all layers.",
        ) from None
    sizes = [int(np.size(item)) for item in items]
    if sizes == [int(np.prod(layer.kernel.shape)) for layer in model.layers]:
        raise Wrong(
            "you returned the kernel gradients themselves, one array per layer.",
            "Reduce each gradient to its norm: float(tf.norm(g)) or np.linalg.norm(g).",
        )
    if any(size != 1 for size in sizes):
        raise Wrong(
            "each layer's entry should be one number, but yours hold several "
            f"({sizes[0]} values for the first layer): the norm was taken along an axis.",
            "Take the norm of the whole kernel gradient: tf.norm(g) or np.linalg.norm(g), without axis=.",
        )
    norms = as_array([np.ravel(item)[0] for item in items], "layer_gradient_norms(model, x, y)")
    if len(norms) == 2 * n_layers:
        raise Wrong(
            f"you returned {len(norms)} numbers for {n_layers} layers: kernels and biases together.",
            "model.trainable_variables alternates kernel and bias; keep only the kernels (layer.kernel).",
        )
    if len(norms) != n_layers:
        raise Wrong(
            f"you returned {len(norms)} numbers for a model with {n_layers} Dense layers (the output layer counts).",
            "Return one norm per layer in model.layers, the output layer included.",
        )
    return norms


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:.2g}" for v in np.asarray(values)) + "]"


def _demo_gradient_norms(function) -> None:
    """Print the learner's norms next to the course's diagnostics on the 8-layer sigmoid model."""
    from utils.diagnostics import keras_layer_stats

    model = q3_model()
    x, y = _q3_batch()
    stats = keras_layer_stats(model, x, y)
    norms = _as_norms(call(function, model, x.copy(), y.copy()), model)
    print(f"{'layer':<9}{'yours':>10}{'keras_layer_stats':>19}")
    for name, mine, theirs in zip(stats.names, norms, stats.grad_norm, strict=True):
        print(f"{name:<9}{mine:>10.2e}{theirs:>19.2e}")
    print(
        f"The lowest hidden layer's gradient is {stats.vanishing_ratio():.1e} times the top hidden layer's: "
        "it vanishes toward the input."
    )


q3 = Exercise(
    name="per-layer kernel gradient norms",
    checker=_check_gradient_norms,
    reference=(_right_norms,),
    mistakes=_Q3_MISTAKES,
    hints=[
        "Open a tf.GradientTape, and inside it run the model and compute the loss: "
        "loss = keras.losses.SparseCategoricalCrossentropy()(y, model(x)).",
        "Ask the tape for the gradients with respect to every layer's kernel: "
        "tape.gradient(loss, [layer.kernel for layer in model.layers]).",
        "A gradient's norm is one number per layer: float(tf.norm(g)), lowest layer first; return them as an array.",
    ],
    on_pass=_demo_gradient_norms,
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 4: a weight scale for a 30-layer tanh network
# ------------------------------------------------------------------------------------------------------------

Q4_DEPTH, Q4_WIDTH, Q4_SEEDS = 30, 100, (0, 1, 2, 3, 4)
MIN_LAST_STD = 0.1  # the last hidden layer's activation std: below it, the signal has collapsed
MAX_SATURATED = 0.1  # mean fraction of saturated hidden units (tanh' < 0.1)
MAX_GRADIENT_RATIO = 10.0  # lowest / top hidden layer gradient norm, either way


def scale_report(scale: float, seed: int) -> dict[str, float]:
    """Return what exercise 4 measures for one seed: last hidden std, saturation, gradient ratio."""
    from utils.mlp import compute_gradient_flow

    with np.errstate(all="ignore"):
        stats = compute_gradient_flow(Q4_DEPTH, Q4_WIDTH, "tanh", scale, seed=seed)
    return {
        "last_std": float(stats.act_std[-2]),
        "saturated": float(np.mean(stats.frac_saturated[:-1])),
        "ratio": stats.vanishing_ratio(),
    }


def scale_problem(report: dict[str, float]) -> str | None:
    """Return what is wrong in one seed's :func:`scale_report` ('collapse', 'saturation', ...) or None."""
    if report["last_std"] < MIN_LAST_STD:
        return "collapse"
    if report["saturated"] > MAX_SATURATED:
        return "saturation"
    if not report["ratio"] <= MAX_GRADIENT_RATIO:
        return "exploding"
    if not report["ratio"] >= 1 / MAX_GRADIENT_RATIO:
        return "vanishing"
    return None


_Q4_PROBLEMS = {
    "collapse": (
        "the activations collapse toward 0: the last hidden layer's std falls under {limit}",
        "The weights are too small: each layer shrinks the signal a little, and 30 layers shrink it a lot. "
        "Try a larger scale.",
    ),
    "saturation": (
        "tanh saturates: more than {limit:.0%} of the hidden units sit on its flat parts",
        "The weights are too large: pre-activations land where tanh is flat. Try a smaller scale.",
    ),
    "exploding": (
        "the gradients explode: the lowest hidden layer's gradient is over {limit:g}× the top one's",
        "The weights are too large. Try a smaller scale.",
    ),
    "vanishing": (
        "the gradients vanish: the lowest hidden layer's gradient is under 1/{limit:g} of the top one's",
        "Try a scale closer to 1.",
    ),
}
_LIMITS = {"collapse": MIN_LAST_STD, "saturation": MAX_SATURATED, "exploding": MAX_GRADIENT_RATIO}


def _check_scale(scale) -> None:
    value = as_float(scale, "scale")
    if value <= 0:
        raise Wrong(
            f"scale = {value:g}: a weight scale is positive (it multiplies a standard deviation).",
            "Try values around 1 first.",
        )
    if value > 100:
        raise Wrong(f"scale = {value:g} is far too large.", _Q4_PROBLEMS["saturation"][1])
    problems = {seed: scale_problem(scale_report(value, seed)) for seed in Q4_SEEDS}
    failed = [seed for seed, problem in problems.items() if problem]
    if not failed:
        return
    problem = problems[failed[0]]
    message = _Q4_PROBLEMS[problem][0].format(limit=_LIMITS.get(problem, MAX_GRADIENT_RATIO))
    hint = _Q4_PROBLEMS[problem][1]
    if 0.05 <= value <= 0.2:
        hint = (
            f"{value:g} looks like a standard deviation (1/sqrt(100) = 0.1). The answer is the scale that "
            "multiplies 1/sqrt(fan_in): std = scale / sqrt(fan_in)."
        )
    if len(failed) < len(Q4_SEEDS):
        passed = [seed for seed in Q4_SEEDS if seed not in failed]
        raise Wrong(
            f"scale = {value:g} works for seed{'s' if len(passed) > 1 else ''} {_seeds(passed)} but not for "
            f"seed{'s' if len(failed) > 1 else ''} {_seeds(failed)}: there {message}.",
            "Your value sits on the edge of the working range: one network passes, another does not. "
            "Move it toward the middle of the range, then test it on several seeds.",
        )
    raise Wrong(f"for scale = {value:g}, {message} (every seed).", hint)


def _seeds(seeds) -> str:
    return ", ".join(str(seed) for seed in seeds)


def _demo_scale(scale) -> None:
    """Print, over the seeds, what the learner's scale does to the 30-layer tanh network."""
    reports = [scale_report(float(scale), seed) for seed in Q4_SEEDS]

    def span(key, fmt):
        values = [r[key] for r in reports]
        return f"{format(min(values), fmt)}..{format(max(values), fmt)}"

    print(
        f"scale = {float(scale):g} over {len(Q4_SEEDS)} seeds of a {Q4_DEPTH}-layer tanh network "
        f"(width {Q4_WIDTH}):\n"
        f"  last hidden layer's activation std {span('last_std', '.2f')} (collapse below {MIN_LAST_STD})\n"
        f"  saturated hidden units {span('saturated', '.1%')} (at most {MAX_SATURATED:.0%})\n"
        f"  gradient norm, lowest / top hidden layer {span('ratio', '.2g')} "
        f"(within {MAX_GRADIENT_RATIO:g}× either way)"
    )


q4 = Exercise(
    name="a weight scale for 30 tanh layers",
    checker=_check_scale,
    hints=[
        "Try a few values with compute_gradient_flow(depth=30, width=100, activation='tanh', scale=s, "
        "seed=seed) and look at act_std (collapse) and frac_saturated (saturation), layer by layer.",
        "Well below 1 the activations shrink layer after layer; well above 1 tanh saturates and gradients explode.",
        "Pick a value in the middle of the range that works, not at its edge, and try it with other seeds.",
    ],
    on_pass=_demo_scale,
)
