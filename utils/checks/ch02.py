"""Checks for the chapter 02 exercises (``exercises/02_initialization.ipynb``).

``q1``: fan_in and fan_out of dense and convolution kernels; ``q2``: the Glorot uniform limit and the He
normal sigma; ``q3``: the initialization for each activation, from a measurement; ``q4``: the leaky-ReLU gain;
``q5``: the book's TF1 ``variance_scaling_initializer()`` in Keras 3. Each is an
:class:`~utils.checks._core.Exercise`: ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.
"""

from __future__ import annotations

import math

import numpy as np

from utils.blas import single_blas_thread
from utils.checks._core import Exercise, Wrong, as_callable, as_float, call, close
from utils.init import INITS, compare_stacks, compute_fans, leaky_stack_std, verdict_table

# ------------------------------------------------------------------------------------------------------------
# Exercise 1: fans of dense and convolution kernels
# ------------------------------------------------------------------------------------------------------------

DENSE_SHAPES = [(64, 10), (256, 128), (30, 300)]
CONV_SHAPES = [(3, 3, 16, 32), (5, 5, 3, 64), (3, 64, 128), (1, 1, 256, 64)]


def _as_pair(value, what: str) -> tuple[float, float]:
    """Return the learner's (fan_in, fan_out) as two floats, or raise Wrong naming what they returned instead."""
    expected = f"{what} should return a pair (fan_in, fan_out)"
    hint = "End with `return fan_in, fan_out`: two numbers, in that order."
    if isinstance(value, dict):
        raise Wrong(f"{expected}, got a dict.", hint)
    if isinstance(value, str | bytes):
        raise Wrong(f"{expected}, got text.", hint)
    try:
        items = list(value)
    except TypeError:
        raise Wrong(f"{expected}, got one {type(value).__name__}.", hint) from None
    if len(items) != 2:
        raise Wrong(f"{expected}, got {len(items)} values.", hint)
    return as_float(items[0], f"{what}[0] (fan_in)"), as_float(items[1], f"{what}[1] (fan_out)")


def _check_fans(fans) -> None:
    fans = as_callable(fans, "fans")
    for shape in DENSE_SHAPES + CONV_SHAPES:
        what = f"fans({shape})"
        got = _as_pair(call(fans, shape, what=f"`{what}`"), what)
        expected = compute_fans(shape)
        if close(got, expected):
            continue
        if close(got, expected[::-1]):
            raise Wrong(
                f"{what} returned {got}: fan_in and fan_out are swapped.",
                "Keras kernels are (inputs, outputs): fan_in comes from shape[-2], fan_out from shape[-1].",
            )
        if len(shape) > 2 and close(got, shape[-2:]):
            raise Wrong(
                f"{what} returned {got}: only the channels, without the window.",
                "In a convolution each output sees a whole window of every input channel: "
                "multiply both fans by the window size (the product of shape[:-2]).",
            )
        if len(shape) > 2 and close(got, (expected[0], shape[-1])):
            raise Wrong(
                f"{what} returned {got}: fan_in is right, but fan_out forgot the window.",
                "Backward, each input gradient sums window size × out_channels terms: "
                "fan_out = window size × shape[-1], like fan_in.",
            )
        if len(shape) > 2 and close(got, shape[:2]):
            raise Wrong(
                f"{what} returned {got}: those are the window's axes.",
                "Keras convolution kernels are (*window, in_channels, out_channels): "
                "the channels are the LAST two axes.",
            )
        raise Wrong(
            f"{what} returned {got}, which is not (fan_in, fan_out).",
            "fan_in = window size × shape[-2], fan_out = window size × shape[-1], "
            "window size = product of shape[:-2] (1 for a dense kernel).",
        )


q1 = Exercise(
    name="fan_in and fan_out of dense and convolution kernels",
    checker=_check_fans,
    hints=[
        "A dense kernel has shape (inputs, outputs): fan_in = inputs, fan_out = outputs.",
        "A Keras convolution kernel has shape (*window, in_channels, out_channels), e.g. (3, 3, 16, 32).",
        "Each output unit of a convolution sums window size × in_channels inputs: "
        "receptive_field = int(np.prod(shape[:-2])), then fan_in = shape[-2] * receptive_field.",
    ],
    solution_text="""
def fans(shape):
    receptive_field = int(np.prod(shape[:-2]))  # 1 for a dense kernel (an empty product)
    return shape[-2] * receptive_field, shape[-1] * receptive_field
""",
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 2: the Glorot uniform limit and the He normal sigma
# ------------------------------------------------------------------------------------------------------------

Q2_SHAPES = [(256, 128), (3, 3, 32, 64), (100, 400)]


def _glorot_mistakes(shape):
    fan_in, fan_out = compute_fans(shape)
    total = fan_in + fan_out
    yield (
        math.sqrt(2 / total),
        "this is Glorot's normal σ, not the uniform limit (σ and limit confused).",
        ("U(−r, r) has variance r²/3, so the limit is r = σ·√3 = √(6 / (fan_in + fan_out))."),
    )
    yield (
        4 * math.sqrt(6 / total),
        "you multiplied by 4: that factor belongs to the logistic function.",
        ("The ×4 makes up for the logistic's slope of 1/4; Glorot's own rule (tanh, softmax) has no factor."),
    )
    yield 6 / total, "you returned r², not r: the square root is missing.", "r = √(6 / (fan_in + fan_out))."
    yield (
        math.sqrt(6) / total,
        "the square root covers only the 6: √6 / (fan_in + fan_out).",
        "Take the root of the whole ratio: np.sqrt(6 / (fan_in + fan_out)).",
    )
    yield (
        math.sqrt(6 / fan_in),
        "this uses fan_in only: that is He's uniform limit, not Glorot's.",
        ("Glorot averages the two directions: r = √(6 / (fan_in + fan_out))."),
    )
    if len(shape) > 2:
        yield (
            math.sqrt(6 / (shape[-2] + shape[-1])),
            "for a convolution kernel you forgot the window.",
            ("Use your `fans(shape)`: both fans are multiplied by the window size."),
        )


def _he_mistakes(shape):
    fan_in, fan_out = compute_fans(shape)
    yield (
        math.sqrt(2 / fan_out),
        "this uses fan_out: He's rule uses fan_in.",
        ("He keeps the forward signal: each unit sums fan_in inputs, so Var(W) = 2 / fan_in."),
    )
    yield (
        math.sqrt(4 / (fan_in + fan_out)),
        "this uses the fan average (the seed notes' ReLU row).",
        ("He's rule is Var(W) = 2 / fan_in; √2 × Glorot only equals it when fan_in = fan_out."),
    )
    yield (
        math.sqrt(6 / fan_in),
        "this is He's uniform limit, not the normal σ (σ and limit confused).",
        ("For a normal law, σ = √(2 / fan_in); the uniform limit is σ·√3."),
    )
    yield (
        2 / fan_in,
        "you returned the variance 2 / fan_in, not the standard deviation.",
        "σ = √(2 / fan_in).",
    )
    yield (
        math.sqrt(1 / fan_in),
        "this is LeCun's σ: ReLU zeroes half of the signal, so He doubles the variance.",
        ("σ = √(2 / fan_in)."),
    )
    yield (
        math.sqrt(2 / fan_in) / 0.87962566103423978,
        "this is the stddev Keras passes to its truncated normal.",
        ("The weights' own σ is √(2 / fan_in); Keras divides by 0.8796 only to undo the truncation."),
    )
    if len(shape) > 2:
        yield (
            math.sqrt(2 / shape[-2]),
            "for a convolution kernel you forgot the window.",
            ("fan_in = window size × in_channels: use your `fans(shape)`."),
        )


def _check_limit_and_sigma(glorot_uniform_limit, he_normal_std) -> None:
    glorot_uniform_limit = as_callable(glorot_uniform_limit, "glorot_uniform_limit")
    he_normal_std = as_callable(he_normal_std, "he_normal_std")
    for shape in Q2_SHAPES:
        what = f"glorot_uniform_limit({shape})"
        limit = as_float(call(glorot_uniform_limit, shape, what=f"`{what}`"), what)
        he_std = INITS["he"].std(shape)
        if close(limit, he_std, rtol=1e-4) and not close(he_std, INITS["glorot"].limit(shape), rtol=1e-4):
            raise Wrong(
                f"{what} = {limit:.5g} is He's normal σ: the two functions are passed in the other order "
                "(or each computes the other's formula).",
                "Pass them as ch02.q2.check(glorot_uniform_limit, he_normal_std).",
            )
        if not close(limit, INITS["glorot"].limit(shape), rtol=1e-4):
            _diagnose(limit, _glorot_mistakes(shape), what, "r = √(6 / (fan_in + fan_out)).")
        what = f"he_normal_std({shape})"
        sigma = as_float(call(he_normal_std, shape, what=f"`{what}`"), what)
        if not close(sigma, INITS["he"].std(shape), rtol=1e-4):
            _diagnose(sigma, _he_mistakes(shape), what, "σ = √(2 / fan_in).")


def _diagnose(value, mistakes, what: str, formula: str) -> None:
    for expected, message, hint in mistakes:
        if close(value, expected, rtol=1e-4):
            raise Wrong(f"{what} = {value:.5g}: {message}", hint)
    raise Wrong(
        f"{what} = {value:.5g}, which is not the formula's value.",
        f"{formula} Test it on a dense shape first.",
    )


def _sample_keras(glorot_uniform_limit, he_normal_std) -> None:
    import keras

    shape = (3, 3, 32, 64)
    glorot = np.asarray(keras.initializers.GlorotUniform(seed=0)(shape))
    he = np.asarray(keras.initializers.HeNormal(seed=0)(shape))
    print(
        f"Keras on a {shape} kernel: GlorotUniform max |w| = {np.abs(glorot).max():.5f} "
        f"(your limit {as_float(glorot_uniform_limit(shape), 'the limit'):.5f});  HeNormal std = {he.std():.5f} "
        f"(your σ {as_float(he_normal_std(shape), 'σ'):.5f})."
    )


q2 = Exercise(
    name="the Glorot uniform limit and the He normal σ",
    checker=_check_limit_and_sigma,
    hints=[
        "Start from the variances: Glorot Var(W) = 2 / (fan_in + fan_out), He Var(W) = 2 / fan_in.",
        "A normal law's σ is the square root of the variance; a uniform law U(−r, r) has variance r²/3, so r = σ·√3.",
        "Reuse `fans(shape)` from exercise 1, so that convolution kernels work too.",
    ],
    solution_text="""
def glorot_uniform_limit(shape):
    fan_in, fan_out = fans(shape)
    return np.sqrt(6 / (fan_in + fan_out))


def he_normal_std(shape):
    fan_in, _ = fans(shape)
    return np.sqrt(2 / fan_in)
""",
    on_pass=_sample_keras,
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 3: the initialization for each activation, justified by a measurement
# ------------------------------------------------------------------------------------------------------------

Q3_ACCEPTED = {"sigmoid": {"glorot_x4"}, "tanh": {"glorot", "lecun"}, "relu": {"he"}, "selu": {"lecun"}}
Q3_MISTAKES = {
    ("tanh", "glorot_x4"): (
        "tanh with 4 × Glorot is the seed notes' row: the gradients explode (about 1e9 over 50 layers).",
        "The 4 makes up for the logistic's slope of 1/4 at 0; tanh's slope at 0 is 1.",
    ),
    ("tanh", "he"): (
        "He doubles the variance because ReLU zeroes half of the signal; tanh zeroes nothing.",
        "tanh is linear near 0 with slope 1: the table's rule is Glorot (LeCun is the forward-only version).",
    ),
    ("tanh", "he_fan_avg"): (
        "√2 × Glorot doubles the variance as for ReLU; tanh zeroes nothing.",
        "tanh is linear near 0 with slope 1: Glorot.",
    ),
    ("relu", "he_fan_avg"): (
        "√2 × Glorot is the seed notes' ReLU row: it matches He on equal widths, but in the bottleneck stack "
        "the activations fade.",
        "Compare the 'act std top/lowest' column of he and he_fan_avg for relu in the bottleneck stack.",
    ),
    ("relu", "glorot"): (
        "with Glorot, ReLU layers halve the signal's variance: the activations vanish.",
        "ReLU zeroes half of a symmetric input, so the variance must be doubled: 2 / fan_in.",
    ),
    ("relu", "lecun"): (
        "with LeCun, ReLU layers halve the signal's variance: the activations vanish.",
        "ReLU zeroes half of a symmetric input, so the variance must be doubled: 2 / fan_in.",
    ),
    ("sigmoid", "glorot"): (
        "logistic with plain Glorot is the seed notes' row: its gradients vanish the fastest.",
        "The logistic's slope is at most 1/4: a 4× larger std (16× the variance) makes up for it.",
    ),
    ("sigmoid", "lecun"): (
        "the logistic with LeCun vanishes almost as fast as with Glorot.",
        "The logistic's slope is at most 1/4: a 4× larger std makes up for it.",
    ),
    ("selu", "he"): (
        "SELU with He: the activations grow layer after layer (by more than 10× over 50 layers).",
        "SELU's constants assume Var(W) = 1 / fan_in: LeCun.",
    ),
    ("selu", "glorot"): (
        "SELU's self-normalization is derived for Var(W) = 1 / fan_in; with Glorot the std drifts from 1.",
        "LeCun: Var(W) = 1 / fan_in; compare the two rows for selu.",
    ),
}


def _check_choice(choice) -> None:
    if not isinstance(choice, dict):
        raise Wrong(
            f"choice should be a dict {{activation: initialization name}}, got {type(choice).__name__}.",
            'Write it as {"sigmoid": "...", "tanh": "...", "relu": "...", "selu": "..."}.',
        )
    missing = sorted(set(Q3_ACCEPTED) - set(choice))
    if missing:
        raise Wrong(
            f"choice has no entry for {', '.join(missing)}.",
            f"Give a name for each of {sorted(Q3_ACCEPTED)}.",
        )
    for activation in Q3_ACCEPTED:
        _check_init_name(activation, choice[activation])
    for activation, accepted in Q3_ACCEPTED.items():
        name = choice[activation]
        if name in accepted:
            continue
        message, hint = Q3_MISTAKES.get(
            (activation, name),
            (
                f"{name} is not the rule for {activation}.",
                "Read the verdict table: both columns should stay near 1.",
            ),
        )
        raise Wrong(f"{activation}: {message}", hint)


def _check_init_name(activation: str, name) -> None:
    """Raise Wrong unless ``name`` is a key of INITS (the table's labels, e.g. "4 × Glorot", are not)."""
    names = sorted(INITS)
    hint = f"Use the names of `candidates`: {', '.join(names)}."
    if not isinstance(name, str):
        raise Wrong(f"choice[{activation!r}] should be a name (text), got {type(name).__name__}.", hint)
    if name in INITS:
        return
    by_label = {INITS[key].label.lower(): key for key in INITS} | {key.lower(): key for key in INITS}
    meant = by_label.get(name.strip().lower())
    if meant is not None:
        raise Wrong(f"choice[{activation!r}] = {name!r}: write the name {meant!r}, as in `candidates`.", hint)
    raise Wrong(f"choice[{activation!r}] = {name!r} is not one of the names {names}.", hint)


Q3_DEMO_SEEDS = (1, 2)  # the exercise's table is seed 0: the demo measures the picks on two other draws


def _show_choice(choice) -> None:
    """Measure the learner's four picks on two more draws of the stack (8 small stacks, on one BLAS thread)."""
    combos = [(activation, choice[activation]) for activation in Q3_ACCEPTED]
    with single_blas_thread():  # several threads on these small products only wait for each other on a busy CPU
        verdicts = compare_stacks(combos, seeds=Q3_DEMO_SEEDS)
    seeds = " and ".join(str(seed) for seed in Q3_DEMO_SEEDS)
    print(f"Your choices on two more draws of the stack (50 layers of 256 units, seeds {seeds}; yours was seed 0):")
    print(verdict_table(verdicts))


q3 = Exercise(
    name="an initialization for each activation",
    checker=_check_choice,
    hints=[
        "Keep the rules whose 'act std top/lowest' stays between 0.1 and 10; among them, pick the one whose "
        "'grad norm lowest/top' is closest to 1.",
        "No rule saves the logistic function in a deep stack: pick the one that vanishes the least. "
        "ReLU's two fan choices agree on equal widths: the bottleneck stack separates them.",
        "The correct table: logistic → 4 × Glorot, tanh → Glorot, ReLU → He, SELU → LeCun.",
    ],
    solution_text="""
print(verdict_table(compare_stacks(square, seeds=(0,))))
print(verdict_table(compare_stacks(bottleneck, pattern="bottleneck", seeds=(0,))))
choice = {"sigmoid": "glorot_x4", "tanh": "glorot", "relu": "he", "selu": "lecun"}
""",
    on_pass=_show_choice,
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 4: the leaky-ReLU gain
# ------------------------------------------------------------------------------------------------------------

Q4_ALPHA = 0.3
Q4_CASES = [(256, 0.3), (100, 0.01), (64, 0.5), (1000, 0.2)]


def _check_leaky(kept_fraction, leaky_he_std) -> None:
    kept = as_float(kept_fraction, "kept_fraction")
    expected = (1 + Q4_ALPHA**2) / 2
    if abs(kept - expected) > 0.01:
        mistakes = [
            (
                0.5,
                "0.5 is ReLU's share: the negative half of a leaky ReLU is not zeroed.",
                "The negative half is multiplied by α, so it keeps α² of its second moment.",
            ),
            (
                (1 + Q4_ALPHA) / 2,
                "this is (1 + α)/2: second moments square the slope.",
                "E[(αz)²] = α²·E[z²]: the share is (1 + α²)/2.",
            ),
            (
                1 + Q4_ALPHA**2,
                "this is 1 + α², twice the share: each half of z holds half of E[z²].",
                "Divide E[leaky(z)²] by E[z²] (about 1 for a standard normal z).",
            ),
            (
                Q4_ALPHA**2 / 2,
                "this counts only the negative half.",
                "The positive half keeps all of its 1/2.",
            ),
            (
                (1 + Q4_ALPHA**2) / 2 - (1 - Q4_ALPHA) ** 2 / (2 * math.pi),
                "this is the ratio of variances: np.var subtracts the mean, but the next layer sums h² terms, "
                "so what matters is the second moment E[h²].",
                "Use np.mean(h ** 2) / np.mean(z ** 2), not np.var.",
            ),
        ]
        if 1 < kept <= 100 and abs(kept / 100 - expected) < 0.01:
            raise Wrong(f"kept_fraction = {kept:.4g} is a percentage.", "Give the share as a fraction between 0 and 1.")
        for value, message, hint in mistakes:
            if abs(kept - value) < 0.01:
                raise Wrong(f"kept_fraction = {kept:.4f}: {message}", hint)
        raise Wrong(
            f"kept_fraction = {kept:.4f}, but a leaky ReLU with α = {Q4_ALPHA} keeps a different share.",
            "Sample z from a standard normal (a million values), apply np.where(z > 0, z, alpha * z), "
            "and divide the mean of its square by the mean of z².",
        )
    leaky_he_std = as_callable(leaky_he_std, "leaky_he_std")
    sigmas = {}
    for fan_in, alpha in Q4_CASES:
        what = f"leaky_he_std({fan_in}, {alpha})"
        sigmas[fan_in, alpha] = as_float(call(leaky_he_std, fan_in, alpha, what=f"`{what}`"), what)
    if len(set(sigmas.values())) == 1:
        raise Wrong(
            f"leaky_he_std returns {next(iter(sigmas.values())):.5g} for every fan_in and α: σ must depend on both.",
            "σ = √(2 / ((1 + α²)·fan_in)), with the function's own fan_in and alpha.",
        )
    for (fan_in, alpha), sigma in sigmas.items():
        what = f"leaky_he_std({fan_in}, {alpha})"
        right = math.sqrt(2 / ((1 + alpha**2) * fan_in))
        if close(sigma, right, rtol=1e-5):
            continue
        for value, message, hint in _leaky_mistakes(fan_in, alpha):
            if close(sigma, value, rtol=1e-5):
                raise Wrong(f"{what} = {sigma:.5g}: {message}", hint)
        raise Wrong(
            f"{what} = {sigma:.5g}, but σ should be √(2 / ((1 + α²)·fan_in)) = {right:.5g}.",
            "Start from the variance: fan_in · Var(W) · (1 + α²)/2 = 1 gives Var(W) = 2 / ((1 + α²)·fan_in); "
            "σ is its square root. Use the function's own fan_in and alpha.",
        )


def _leaky_mistakes(fan_in: int, alpha: float):
    """Yield (value, message, hint) for the typical wrong σ of a leaky ReLU with slope ``alpha``."""
    right_hint = "σ = √(2 / ((1 + α²)·fan_in)), with the function's own fan_in and alpha."
    yield (
        math.sqrt(2 / ((1 + Q4_ALPHA**2) * fan_in)),
        f"your function ignores its alpha argument: this is σ for α = {Q4_ALPHA}, the notebook's value.",
        "Use the parameter alpha in the formula (not the notebook's variable, nor a hard-coded share).",
    )
    yield (
        math.sqrt(2 / fan_in),
        "this is He's σ for plain ReLU: the (1 + α²) is missing.",
        "The layer keeps (1 + α²)/2 of the variance, so Var(W) = 2 / ((1 + α²)·fan_in).",
    )
    yield (
        math.sqrt(2 / ((1 + alpha) * fan_in)),
        "this divides by (1 + α): the slope enters squared.",
        "Var(W) = 2 / ((1 + α²)·fan_in).",
    )
    yield (
        2 / ((1 + alpha**2) * fan_in),
        "you returned the variance, not the standard deviation.",
        "Take the square root.",
    )
    yield (
        math.sqrt(6 / ((1 + alpha**2) * fan_in)),
        "this is the uniform limit (σ·√3), not σ.",
        right_hint,
    )
    yield (
        math.sqrt(2 * (1 + alpha**2) / fan_in),
        "the (1 + α²) is upside down.",
        "Keeping MORE of the signal than ReLU means SMALLER weights: divide by (1 + α²).",
    )
    yield (
        math.sqrt(1 / ((1 + alpha**2) * fan_in)),
        "the factor 2 is missing: (1 + α²)/2 is the share kept, so its inverse is 2 / (1 + α²).",
        right_hint,
    )
    yield (
        math.sqrt(2 / (1 + alpha**2)) / fan_in,
        "fan_in is outside the square root: σ scales as 1/√fan_in, not 1/fan_in.",
        right_hint,
    )
    yield (
        math.sqrt(2 / ((1 - alpha) ** 2 * fan_in)),
        "this divides by (1 − α)²; the share kept is (1 + α²)/2.",
        right_hint,
    )
    if alpha > 0:
        yield (
            math.sqrt(2 / ((1 + fan_in**2) * alpha)),
            "fan_in and alpha are swapped: the check calls leaky_he_std(fan_in, alpha).",
            "Keep the parameter order of the `def` line: leaky_he_std(fan_in, alpha).",
        )


def _leaky_demo(kept_fraction, leaky_he_std) -> None:
    width = 256
    with single_blas_thread():  # small products: extra threads only wait on a busy CPU
        yours = leaky_stack_std(Q4_ALPHA, as_float(leaky_he_std(width, Q4_ALPHA), "σ") ** 2 * width)
        plain = leaky_stack_std(Q4_ALPHA, 2.0)
    print(
        f"50 leaky-ReLU layers (α = {Q4_ALPHA}), activation std top / lowest: "
        f"your σ {yours[-1] / yours[0]:.2f}, plain He {plain[-1] / plain[0]:.2f}."
    )


q4 = Exercise(
    name="the leaky-ReLU gain",
    checker=_check_leaky,
    hints=[
        "For z symmetric around 0, each half holds half of E[z²]. "
        "ReLU keeps one half; leaky ReLU keeps the other "
        "multiplied by α, so α² of it.",
        "kept_fraction should be close to (1 + α²)/2; the next layer sees fan_in · Var(W) · kept_fraction · Var(z).",
        "Set fan_in · Var(W) · (1 + α²)/2 = 1: Var(W) = 2 / ((1 + α²)·fan_in), and return its square root.",
    ],
    solution_text="""
z = np.random.default_rng(0).standard_normal(1_000_000)
kept_fraction = np.mean(np.where(z > 0, z, alpha * z) ** 2) / np.mean(z**2)


def leaky_he_std(fan_in, alpha):
    return np.sqrt(2 / ((1 + alpha**2) * fan_in))
""",
    on_pass=_leaky_demo,
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 5: the book's TF1 initializer in Keras 3
# ------------------------------------------------------------------------------------------------------------

Q5_SHAPE = (3, 3, 32, 64)


def _check_he_init(he_init) -> None:
    import keras

    if isinstance(he_init, str):
        try:
            he_init = keras.initializers.get(he_init)
        except (ValueError, TypeError):
            raise Wrong(f"{he_init!r} is not a Keras initializer name.", "Try keras.initializers.HeNormal().") from None
    if isinstance(he_init, type):
        raise Wrong("he_init is a class: create the initializer with ().", "keras.initializers.HeNormal()")
    if not isinstance(he_init, keras.initializers.VarianceScaling):
        raise Wrong(
            f"he_init should be a Keras VarianceScaling initializer (HeNormal is one); got {type(he_init).__name__}.",
            "tf.contrib.layers.variance_scaling_initializer is the ancestor of keras.initializers.VarianceScaling.",
        )
    scale, mode, distribution = he_init.scale, he_init.mode, he_init.distribution
    if scale == 1.0 and mode == "fan_in":
        raise Wrong(
            "this is LeCun's initialization: Keras' VarianceScaling() defaults to scale=1.0.",
            "TF1's contrib version defaulted to factor=2.0 (He): pass scale=2.0, or use HeNormal().",
        )
    if mode == "fan_avg" and scale == 1.0:
        raise Wrong(
            "this is Glorot's initialization (Keras' default for Dense layers), not He's.",
            "TF1's variance_scaling_initializer() defaulted to factor=2.0, mode='FAN_IN': "
            "keras.initializers.HeNormal().",
        )
    if mode != "fan_in":
        raise Wrong(f"mode={mode!r}: TF1's default was mode='FAN_IN'.", "He's rule uses fan_in.")
    if not math.isclose(scale, 2.0):
        raise Wrong(f"scale={scale}: TF1's default was factor=2.0.", "He: scale=2.0.")
    if distribution == "uniform":
        raise Wrong("this draws from a uniform law: TF1's default was uniform=False.", "Use HeNormal().")
    if distribution != "truncated_normal":
        raise Wrong(
            f"distribution={distribution!r}: the variance is right, but TF1 drew from a truncated normal.",
            "Keras' 'truncated_normal' (HeNormal's) is the exact equivalent.",
        )
    weights = np.asarray(he_init(Q5_SHAPE), dtype=np.float64)
    expected = INITS["he"].variance(Q5_SHAPE)
    if abs(weights.var() / expected - 1) > 0.03:
        raise Wrong(
            f"sampled variance {weights.var():.3g}, expected 2 / fan_in = {expected:.3g}.",
            "keras.initializers.HeNormal() samples exactly that law.",
        )


q5 = Exercise(
    name="the book's he_init in Keras 3",
    checker=_check_he_init,
    hints=[
        "tf.contrib.layers.variance_scaling_initializer() defaulted to factor=2.0, mode='FAN_IN', uniform=False.",
        "Keras' VarianceScaling() defaults to scale=1.0: that is LeCun, not He.",
        "keras.initializers.HeNormal() = VarianceScaling(scale=2.0, mode='fan_in', distribution='truncated_normal').",
    ],
    solution_text="""
he_init = keras.initializers.HeNormal()
# or: keras.initializers.VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal")
""",
)
