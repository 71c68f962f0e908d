"""Checks for the chapter 02 exercises (``exercises/02_initialization.ipynb``).

``q1``: fan_in and fan_out of dense and convolution kernels; ``q2``: the Glorot uniform limit and the He
normal sigma; ``q3``: the initialization for each activation, from a measurement; ``q4``: the leaky-ReLU gain;
``q5``: the book's TF1 ``variance_scaling_initializer()`` in Keras 3. Each is an
:class:`~utils.checks._core.Exercise`: ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from utils.blas import single_blas_thread
from utils.checks._core import (
    Exercise,
    Mistake,
    Wrong,
    against_reference,
    as_callable,
    as_float,
    call,
    close,
    name_mistake,
)
from utils.init import INITS, compute_fans, verdict_table
from utils.mlp import compare_stacks, leaky_stack_std

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


_FANS_MISTAKES = (
    Mistake(
        lambda shape: compute_fans(shape)[::-1],
        "fan_in and fan_out are swapped.",
        "Keras kernels are (inputs, outputs): fan_in comes from shape[-2], fan_out from shape[-1].",
    ),
    Mistake(
        lambda shape: shape[-2:],
        "only the channels, without the window.",
        "In a convolution each output sees a whole window of every input channel: "
        "multiply both fans by the window size (the product of shape[:-2]).",
    ),
    Mistake(
        lambda shape: (compute_fans(shape)[0], shape[-1]),
        "fan_in is right, but fan_out forgot the window.",
        "Backward, each input gradient sums window size × out_channels terms: "
        "fan_out = window size × shape[-1], like fan_in.",
    ),
    Mistake(
        lambda shape: shape[:2],
        "those are the window's axes.",
        "Keras convolution kernels are (*window, in_channels, out_channels): the channels are the LAST two axes.",
    ),
)


def _fans_of(fans, shape) -> tuple[float, float]:
    return _as_pair(call(fans, shape, what=f"`fans({shape})`"), f"fans({shape})")


def _not_fans(got, expected, args) -> Wrong:
    return Wrong(
        f"fans({args[0]}) returned {got}, which is not (fan_in, fan_out).",
        "fan_in = window size × shape[-2], fan_out = window size × shape[-1], "
        "window size = product of shape[:-2] (1 for a dense kernel).",
    )


def _check_fans(fans) -> None:
    against_reference(
        as_callable(fans, "fans"),
        compute_fans,
        [(shape,) for shape in DENSE_SHAPES + CONV_SHAPES],
        _FANS_MISTAKES,
        run=_fans_of,
        prefix=lambda got, args: f"fans({args[0]}) returned {got}: ",
        otherwise=_not_fans,
    )


q1 = Exercise(
    name="fan_in and fan_out of dense and convolution kernels",
    checker=_check_fans,
    reference=(compute_fans,),
    mistakes=_FANS_MISTAKES,
    hints=[
        "A dense kernel has shape (inputs, outputs): fan_in = inputs, fan_out = outputs.",
        "A Keras convolution kernel has shape (*window, in_channels, out_channels), e.g. (3, 3, 16, 32).",
        "Each output unit of a convolution sums window size × in_channels inputs: "
        "receptive_field = int(np.prod(shape[:-2])), then fan_in = shape[-2] * receptive_field.",
    ],
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 2: the Glorot uniform limit and the He normal sigma
# ------------------------------------------------------------------------------------------------------------

Q2_SHAPES = [(256, 128), (3, 3, 32, 64), (100, 400)]


def _fans_sum(shape) -> int:
    return sum(compute_fans(shape))


def _window_forgotten(shape) -> tuple[int, int]:
    return shape[-2], shape[-1]


_GLOROT_MISTAKES = (
    Mistake(
        lambda shape: math.sqrt(2 / _fans_sum(shape)),
        "this is Glorot's normal σ, not the uniform limit (σ and limit confused).",
        "U(−r, r) has variance r²/3, so the limit is r = σ·√3 = √(6 / (fan_in + fan_out)).",
    ),
    Mistake(
        lambda shape: 4 * math.sqrt(6 / _fans_sum(shape)),
        "you multiplied by 4: that factor belongs to the logistic function.",
        "The ×4 makes up for the logistic's slope of 1/4; Glorot's own rule (tanh, softmax) has no factor.",
    ),
    Mistake(
        lambda shape: 6 / _fans_sum(shape),
        "you returned r², not r: the square root is missing.",
        "r = √(6 / (fan_in + fan_out)).",
    ),
    Mistake(
        lambda shape: math.sqrt(6) / _fans_sum(shape),
        "the square root covers only the 6: √6 / (fan_in + fan_out).",
        "Take the root of the whole ratio: np.sqrt(6 / (fan_in + fan_out)).",
    ),
    Mistake(
        lambda shape: math.sqrt(6 / compute_fans(shape)[0]),
        "this uses fan_in only: that is He's uniform limit, not Glorot's.",
        "Glorot averages the two directions: r = √(6 / (fan_in + fan_out)).",
    ),
    Mistake(
        lambda shape: math.sqrt(6 / sum(_window_forgotten(shape))),
        "for a convolution kernel you forgot the window.",
        "Use your `fans(shape)`: both fans are multiplied by the window size.",
    ),
)

_HE_MISTAKES = tuple(
    Mistake(answer, message, hint, slot=1)
    for answer, message, hint in (
        (
            lambda shape: math.sqrt(2 / compute_fans(shape)[1]),
            "this uses fan_out: He's rule uses fan_in.",
            "He keeps the forward signal: each unit sums fan_in inputs, so Var(W) = 2 / fan_in.",
        ),
        (
            lambda shape: math.sqrt(4 / _fans_sum(shape)),
            "this uses the fan average (the seed notes' ReLU row).",
            "He's rule is Var(W) = 2 / fan_in; √2 × Glorot only equals it when fan_in = fan_out.",
        ),
        (
            lambda shape: math.sqrt(6 / compute_fans(shape)[0]),
            "this is He's uniform limit, not the normal σ (σ and limit confused).",
            "For a normal law, σ = √(2 / fan_in); the uniform limit is σ·√3.",
        ),
        (
            lambda shape: 2 / compute_fans(shape)[0],
            "you returned the variance 2 / fan_in, not the standard deviation.",
            "σ = √(2 / fan_in).",
        ),
        (
            lambda shape: math.sqrt(1 / compute_fans(shape)[0]),
            "this is LeCun's σ: ReLU zeroes half of the signal, so He doubles the variance.",
            "σ = √(2 / fan_in).",
        ),
        (
            lambda shape: math.sqrt(2 / compute_fans(shape)[0]) / 0.87962566103423978,
            "this is the stddev Keras passes to its truncated normal.",
            "The weights' own σ is √(2 / fan_in); Keras divides by 0.8796 only to undo the truncation.",
        ),
        (
            lambda shape: math.sqrt(2 / shape[-2]),
            "for a convolution kernel you forgot the window.",
            "fan_in = window size × in_channels: use your `fans(shape)`.",
        ),
    )
)


def _close_value(got, expected) -> bool:
    return close(got, expected, rtol=1e-4)


def _one_value(name: str, other: Callable | None = None):
    """Return a ``run`` for :func:`against_reference` that reads ``name(shape)`` as one number.

    With ``other`` (the formula of the other function), a value that is the other's, and not this one's, is told
    that the two functions were passed in the other order.
    """

    def run(function, shape):
        what = f"{name}({shape})"
        value = as_float(call(function, shape, what=f"`{what}`"), what)
        own = INITS["glorot"].limit(shape) if name == "glorot_uniform_limit" else INITS["he"].std(shape)
        if other is not None and _close_value(value, other(shape)) and not _close_value(other(shape), own):
            raise Wrong(
                f"{what} = {value:.5g} is He's normal σ: the two functions are passed in the other order "
                "(or each computes the other's formula).",
                "Pass them as ch02.q2.check(glorot_uniform_limit, he_normal_std).",
            )
        return value

    return run


def _formula_missed(name: str, formula: str):
    def otherwise(value, expected, args) -> Wrong:
        return Wrong(
            f"{name}({args[0]}) = {value:.5g}, which is not the formula's value.",
            f"{formula} Test it on a dense shape first.",
        )

    return otherwise


def _check_limit_and_sigma(glorot_uniform_limit, he_normal_std) -> None:
    glorot_uniform_limit = as_callable(glorot_uniform_limit, "glorot_uniform_limit")
    he_normal_std = as_callable(he_normal_std, "he_normal_std")
    for name, function, reference, mistakes, formula in (
        (
            "glorot_uniform_limit",
            glorot_uniform_limit,
            INITS["glorot"].limit,
            _GLOROT_MISTAKES,
            "r = √(6 / (fan_in + fan_out)).",
        ),
        ("he_normal_std", he_normal_std, INITS["he"].std, _HE_MISTAKES, "σ = √(2 / fan_in)."),
    ):
        against_reference(
            function,
            reference,
            [(shape,) for shape in Q2_SHAPES],
            mistakes,
            run=_one_value(name, INITS["he"].std if name == "glorot_uniform_limit" else None),
            compare=_close_value,
            prefix=lambda value, args, name=name: f"{name}({args[0]}) = {value:.5g}: ",
            otherwise=_formula_missed(name, formula),
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
    reference=(INITS["glorot"].limit, INITS["he"].std),
    mistakes=_GLOROT_MISTAKES + _HE_MISTAKES,
    hints=[
        "Start from the variances: Glorot Var(W) = 2 / (fan_in + fan_out), He Var(W) = 2 / fan_in.",
        "A normal law's σ is the square root of the variance; a uniform law U(−r, r) has variance r²/3, so r = σ·√3.",
        "Reuse `fans(shape)` from exercise 1, so that convolution kernels work too.",
    ],
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


Q3_RIGHT = {"sigmoid": "glorot_x4", "tanh": "glorot", "relu": "he", "selu": "lecun"}
_CHOICE_MISTAKES = tuple(  # the same mistakes as answers, for the tests
    Mistake({**Q3_RIGHT, activation: name}, f"{activation}: {message}", hint)
    for (activation, name), (message, hint) in Q3_MISTAKES.items()
)


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
    reference=(Q3_RIGHT,),
    mistakes=_CHOICE_MISTAKES,
    hints=[
        "Keep the rules whose 'act std top/lowest' stays between 0.1 and 10; among them, pick the one whose "
        "'grad norm lowest/top' is closest to 1.",
        "No rule saves the logistic function in a deep stack: pick the one that vanishes the least. "
        "ReLU's two fan choices agree on equal widths: the bottleneck stack separates them.",
        "The correct table: logistic → 4 × Glorot, tanh → Glorot, ReLU → He, SELU → LeCun.",
    ],
    on_pass=_show_choice,
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 4: the leaky-ReLU gain
# ------------------------------------------------------------------------------------------------------------

Q4_ALPHA = 0.3
Q4_CASES = [(256, 0.3), (100, 0.01), (64, 0.5), (1000, 0.2)]


KEPT_FRACTION = (1 + Q4_ALPHA**2) / 2
_KEPT_MISTAKES = (
    Mistake(
        0.5,
        "0.5 is ReLU's share: the negative half of a leaky ReLU is not zeroed.",
        "The negative half is multiplied by α, so it keeps α² of its second moment.",
    ),
    Mistake(
        (1 + Q4_ALPHA) / 2,
        "this is (1 + α)/2: second moments square the slope.",
        "E[(αz)²] = α²·E[z²]: the share is (1 + α²)/2.",
    ),
    Mistake(
        1 + Q4_ALPHA**2,
        "this is 1 + α², twice the share: each half of z holds half of E[z²].",
        "Divide E[leaky(z)²] by E[z²] (about 1 for a standard normal z).",
    ),
    Mistake(Q4_ALPHA**2 / 2, "this counts only the negative half.", "The positive half keeps all of its 1/2."),
    Mistake(
        KEPT_FRACTION - (1 - Q4_ALPHA) ** 2 / (2 * math.pi),
        "this is the ratio of variances: np.var subtracts the mean, but the next layer sums h² terms, "
        "so what matters is the second moment E[h²].",
        "Use np.mean(h ** 2) / np.mean(z ** 2), not np.var.",
    ),
)
_SIGMA_HINT = "σ = √(2 / ((1 + α²)·fan_in)), with the function's own fan_in and alpha."
_LEAKY_MISTAKES = tuple(
    Mistake(answer, message, hint, slot=1)
    for answer, message, hint in (
        (
            lambda fan_in, alpha: math.sqrt(2 / ((1 + Q4_ALPHA**2) * fan_in)),
            f"your function ignores its alpha argument: this is σ for α = {Q4_ALPHA}, the notebook's value.",
            "Use the parameter alpha in the formula (not the notebook's variable, nor a hard-coded share).",
        ),
        (
            lambda fan_in, alpha: math.sqrt(2 / fan_in),
            "this is He's σ for plain ReLU: the (1 + α²) is missing.",
            "The layer keeps (1 + α²)/2 of the variance, so Var(W) = 2 / ((1 + α²)·fan_in).",
        ),
        (
            lambda fan_in, alpha: math.sqrt(2 / ((1 + alpha) * fan_in)),
            "this divides by (1 + α): the slope enters squared.",
            "Var(W) = 2 / ((1 + α²)·fan_in).",
        ),
        (
            lambda fan_in, alpha: 2 / ((1 + alpha**2) * fan_in),
            "you returned the variance, not the standard deviation.",
            "Take the square root.",
        ),
        (
            lambda fan_in, alpha: math.sqrt(6 / ((1 + alpha**2) * fan_in)),
            "this is the uniform limit (σ·√3), not σ.",
            _SIGMA_HINT,
        ),
        (
            lambda fan_in, alpha: math.sqrt(2 * (1 + alpha**2) / fan_in),
            "the (1 + α²) is upside down.",
            "Keeping MORE of the signal than ReLU means SMALLER weights: divide by (1 + α²).",
        ),
        (
            lambda fan_in, alpha: math.sqrt(1 / ((1 + alpha**2) * fan_in)),
            "the factor 2 is missing: (1 + α²)/2 is the share kept, so its inverse is 2 / (1 + α²).",
            _SIGMA_HINT,
        ),
        (
            lambda fan_in, alpha: math.sqrt(2 / (1 + alpha**2)) / fan_in,
            "fan_in is outside the square root: σ scales as 1/√fan_in, not 1/fan_in.",
            _SIGMA_HINT,
        ),
        (
            lambda fan_in, alpha: math.sqrt(2 / ((1 - alpha) ** 2 * fan_in)),
            "this divides by (1 − α)²; the share kept is (1 + α²)/2.",
            _SIGMA_HINT,
        ),
        (  # every alpha of Q4_CASES is positive
            lambda fan_in, alpha: math.sqrt(2 / ((1 + fan_in**2) * alpha)),
            "fan_in and alpha are swapped: the check calls leaky_he_std(fan_in, alpha).",
            "Keep the parameter order of the `def` line: leaky_he_std(fan_in, alpha).",
        ),
    )
)


def _leaky_he_std(fan_in, alpha) -> float:
    return math.sqrt(2 / ((1 + alpha**2) * fan_in))


def _check_kept(kept_fraction) -> None:
    kept = as_float(kept_fraction, "kept_fraction")
    if abs(kept - KEPT_FRACTION) <= 0.01:
        return
    if 1 < kept <= 100 and abs(kept / 100 - KEPT_FRACTION) < 0.01:
        raise Wrong(f"kept_fraction = {kept:.4g} is a percentage.", "Give the share as a fraction between 0 and 1.")
    name_mistake(
        kept, (), _KEPT_MISTAKES, compare=lambda a, b: abs(a - b) < 0.01, prefix=f"kept_fraction = {kept:.4f}: "
    )
    raise Wrong(
        f"kept_fraction = {kept:.4f}, but a leaky ReLU with α = {Q4_ALPHA} keeps a different share.",
        "Sample z from a standard normal (a million values), apply np.where(z > 0, z, alpha * z), "
        "and divide the mean of its square by the mean of z².",
    )


def _sigma_of(function, fan_in, alpha) -> float:
    what = f"leaky_he_std({fan_in}, {alpha})"
    return as_float(call(function, fan_in, alpha, what=f"`{what}`"), what)


def _sigma_missed(sigma, right, args) -> Wrong:
    return Wrong(
        f"leaky_he_std{args} = {sigma:.5g}, but σ should be √(2 / ((1 + α²)·fan_in)) = {right:.5g}.",
        "Start from the variance: fan_in · Var(W) · (1 + α²)/2 = 1 gives Var(W) = 2 / ((1 + α²)·fan_in); "
        "σ is its square root. Use the function's own fan_in and alpha.",
    )


def _check_leaky(kept_fraction, leaky_he_std) -> None:
    _check_kept(kept_fraction)
    leaky_he_std = as_callable(leaky_he_std, "leaky_he_std")
    sigmas = {_sigma_of(leaky_he_std, fan_in, alpha) for fan_in, alpha in Q4_CASES}
    if len(sigmas) == 1:
        raise Wrong(
            f"leaky_he_std returns {sigmas.pop():.5g} for every fan_in and α: σ must depend on both.", _SIGMA_HINT
        )
    against_reference(
        leaky_he_std,
        _leaky_he_std,
        Q4_CASES,
        _LEAKY_MISTAKES,
        run=_sigma_of,
        compare=lambda got, expected: close(got, expected, rtol=1e-5),
        prefix=lambda sigma, args: f"leaky_he_std{args} = {sigma:.5g}: ",
        otherwise=_sigma_missed,
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
    reference=(KEPT_FRACTION, _leaky_he_std),
    mistakes=_KEPT_MISTAKES + _LEAKY_MISTAKES,
    hints=[
        "For z symmetric around 0, each half holds half of E[z²]. "
        "ReLU keeps one half; leaky ReLU keeps the other "
        "multiplied by α, so α² of it.",
        "kept_fraction should be close to (1 + α²)/2; the next layer sees fan_in · Var(W) · kept_fraction · Var(z).",
        "Set fan_in · Var(W) · (1 + α²)/2 = 1: Var(W) = 2 / ((1 + α²)·fan_in), and return its square root.",
    ],
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
)
