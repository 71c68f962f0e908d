"""Weight initialization: fans, the Glorot / He / LeCun table, its formulas, what deep stacks do with them.

Taught in chapter 02. Every rule here is one Keras ``VarianceScaling(scale, mode, distribution)``: the weights
get variance ``scale / fan``, where fan is fan_in, fan_out or their average; a uniform law on [-r, r] gets
r = sqrt(3 var) and a normal law sigma = sqrt(var). ``tests/test_init.py`` checks it all against the samples
of Keras' initializers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEAKY_SLOPE = 0.2  # the default of keras.activations.leaky_relu (the LeakyReLU *layer* defaults to 0.3)
FAN_MODES = ("fan_in", "fan_out", "fan_avg")

# Std of a standard normal truncated to [-2, 2]. Keras divides the stddev it passes to its truncated normal by
# this number, so that the *sampled* weights have the variance the formula asks for (TF1's contrib code
# multiplied the variance by 1.3 instead, about 1/0.88^2).
TRUNCATED_STD = 0.87962566103423978


# ------------------------------------------------------------------------------------------------------------
# Fans and formulas
# ------------------------------------------------------------------------------------------------------------


def compute_fans(shape) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a kernel, as Keras counts them.

    Dense kernels are ``(inputs, outputs)``; convolution kernels ``(*window, in_channels, out_channels)``,
    where each input channel feeds the output through the whole window: fan_in = window size x in_channels,
    fan_out = window size x out_channels. A 1-D shape (a bias) counts its length for both.
    """
    shape = tuple(int(d) for d in shape)
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def fan(shape, mode: str = "fan_in") -> float:
    """Return fan_in, fan_out or their average (``mode``) for a kernel ``shape``."""
    if mode not in FAN_MODES:
        raise ValueError(f"mode must be one of {FAN_MODES}, got {mode!r}")
    fan_in, fan_out = compute_fans(shape)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def variance(shape, scale: float = 1.0, mode: str = "fan_in") -> float:
    """Return the weight variance ``scale / fan`` (fan at least 1, as in Keras)."""
    return scale / max(1.0, fan(shape, mode))


def normal_std(shape, scale: float = 1.0, mode: str = "fan_in") -> float:
    """Return the standard deviation sigma = sqrt(scale / fan) of a normal initialization."""
    return math.sqrt(variance(shape, scale, mode))


def uniform_limit(shape, scale: float = 1.0, mode: str = "fan_in") -> float:
    """Return r such that U(-r, r) has variance scale / fan: r = sqrt(3 scale / fan) = sigma * sqrt(3)."""
    return math.sqrt(3.0 * variance(shape, scale, mode))


def truncated_std_factor(bound: float = 2.0) -> float:
    """Return the std of a standard normal truncated to [-bound, bound] (0.8796... for Keras' bound of 2)."""
    density = math.exp(-(bound**2) / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(bound / math.sqrt(2))  # P(-bound < Z < bound)
    return math.sqrt(1 - 2 * bound * density / mass)


def leaky_relu_scale(alpha: float = LEAKY_SLOPE) -> float:
    """Return He's scale for leaky ReLU, 2 / (1 + alpha^2): the negative half keeps alpha^2 of its share."""
    return 2.0 / (1.0 + alpha**2)


@dataclass(frozen=True)
class Init:
    """An initialization rule: weight variance ``scale / fan(mode)``, as in Keras' ``VarianceScaling``."""

    label: str
    scale: float
    mode: str

    def variance(self, shape) -> float:
        return variance(shape, self.scale, self.mode)

    def std(self, shape) -> float:
        return normal_std(shape, self.scale, self.mode)

    def limit(self, shape) -> float:
        return uniform_limit(shape, self.scale, self.mode)

    def keras(self, distribution: str = "truncated_normal", seed=None):
        """Return this rule's Keras initializer (truncated_normal, untruncated_normal or uniform).

        ``seed``: None, an int, or a ``keras.random.SeedGenerator`` (the only kind that draws new values at
        every call, so that one object can initialize several layers).
        """
        import keras

        return keras.initializers.VarianceScaling(self.scale, self.mode, distribution, seed=seed)


INITS = {
    "lecun": Init("LeCun", 1.0, "fan_in"),
    "glorot": Init("Glorot", 1.0, "fan_avg"),
    "glorot_x4": Init("4 × Glorot", 16.0, "fan_avg"),  # 4 times the std: 16 times the variance
    "he": Init("He", 2.0, "fan_in"),
    "he_fan_avg": Init("√2 × Glorot", 2.0, "fan_avg"),  # the seed notes' ReLU row
    "he_leaky": Init("He / (1 + α²)", leaky_relu_scale(LEAKY_SLOPE), "fan_in"),  # α = LEAKY_SLOPE, Keras' default
}


def get_init(init: str | Init) -> Init:
    """Return the :class:`Init` named ``init`` (a key of ``INITS``), or ``init`` itself."""
    if isinstance(init, Init):
        return init
    try:
        return INITS[init]
    except KeyError:
        raise ValueError(f"unknown initialization {init!r}; choose one of {sorted(INITS)}") from None


# ------------------------------------------------------------------------------------------------------------
# The table: the seed notes' (first edition's) version and the correct one, as data
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of an initialization table; ``limit``, ``sigma``: expressions of fan_in, fan_out and alpha."""

    activation: str  # as printed
    key: str  # the activation's name in utils.activations / Keras
    init: str  # a key of INITS
    limit: str
    sigma: str

    def evaluate(self, shape, alpha: float = LEAKY_SLOPE) -> tuple[float, float]:
        """Return the row's (limit, sigma) for a kernel ``shape``, computed from the printed formulas."""
        fan_in, fan_out = compute_fans(shape)
        names = {"sqrt": math.sqrt, "fan_in": fan_in, "fan_out": fan_out, "alpha": alpha}
        no_builtins = {"__builtins__": {}}
        return eval(self.limit, no_builtins, names), eval(self.sigma, no_builtins, names)  # noqa: S307


CORRECT_TABLE = (
    Row(
        "logistic (sigmoid)",
        "sigmoid",
        "glorot_x4",
        "4 * sqrt(6 / (fan_in + fan_out))",
        "4 * sqrt(2 / (fan_in + fan_out))",
    ),
    Row("tanh", "tanh", "glorot", "sqrt(6 / (fan_in + fan_out))", "sqrt(2 / (fan_in + fan_out))"),
    Row("ReLU", "relu", "he", "sqrt(6 / fan_in)", "sqrt(2 / fan_in)"),
    Row(
        "leaky ReLU (slope α)",
        "leaky_relu",
        "he_leaky",
        "sqrt(6 / ((1 + alpha**2) * fan_in))",
        "sqrt(2 / ((1 + alpha**2) * fan_in))",
    ),
    Row("SELU", "selu", "lecun", "sqrt(3 / fan_in)", "sqrt(1 / fan_in)"),
    Row(
        "softmax output, none",
        "linear",
        "glorot",
        "sqrt(6 / (fan_in + fan_out))",
        "sqrt(2 / (fan_in + fan_out))",
    ),
)

# The seed notes (the first edition's Table 11-1) as written: the 4 sits on tanh, ReLU uses the fan average.
SEED_TABLE = (
    Row("logistic", "sigmoid", "glorot", "sqrt(6 / (fan_in + fan_out))", "sqrt(2 / (fan_in + fan_out))"),
    Row("tanh", "tanh", "glorot_x4", "4 * sqrt(6 / (fan_in + fan_out))", "4 * sqrt(2 / (fan_in + fan_out))"),
    Row(
        "ReLU (variants)",
        "relu",
        "he_fan_avg",
        "sqrt(2) * sqrt(6 / (fan_in + fan_out))",
        "sqrt(2) * sqrt(2 / (fan_in + fan_out))",
    ),
)


def pretty(expression: str) -> str:
    """Return a formula written for reading: sqrt(...) as √(...), alpha**2 as α², * as ·."""
    text = expression.replace("sqrt(2) * ", "√2 · ").replace("sqrt", "√").replace("alpha**2", "α²")
    return text.replace(" * ", " · ")


def table_markdown(rows, *, mark=None) -> str:
    """Return ``rows`` as a Markdown table; rows whose activation key is in ``mark`` get a ❌."""
    mark = set(mark or ())
    lines = [
        "| activation | initialization | uniform limit r | normal σ |",
        "|:--|:--|:--|:--|",
    ]
    for row in rows:
        flag = " ❌" if row.key in mark else ""
        lines.append(
            f"| {row.activation}{flag} | {INITS[row.init].label} | {pretty(row.limit)} | {pretty(row.sigma)} |"
        )
    return "\n".join(lines)


def table_differences(seed_rows=SEED_TABLE, correct_rows=CORRECT_TABLE) -> dict[str, tuple[str, str]]:
    """Return ``{activation: (seed's init, correct init)}`` for every row where the two tables disagree."""
    correct = {row.key: row.init for row in correct_rows}
    return {row.key: (row.init, correct[row.key]) for row in seed_rows if correct.get(row.key) != row.init}


# ------------------------------------------------------------------------------------------------------------
# Deep stacks: their shapes and verdicts (measured on the numpy engine by utils.mlp: measure_stack, compare_stacks)
# ------------------------------------------------------------------------------------------------------------

MAX_DEPTH, MAX_WIDTH = 50, 256
WIDTH_PATTERNS = ("constant", "bottleneck")


def stack_widths(depth: int, width: int = MAX_WIDTH, pattern: str = "constant") -> list[int]:
    """Return hidden widths: ``depth`` times ``width``, or alternately width and width // 4 ("bottleneck")."""
    if pattern == "constant":
        return [width] * depth
    if pattern == "bottleneck":
        return [width if i % 2 == 0 else max(1, width // 4) for i in range(depth)]
    raise ValueError(f"pattern must be one of {WIDTH_PATTERNS}, got {pattern!r}")


@dataclass(frozen=True)
class Verdict:
    """Two numbers per seed for one activation x initialization through a deep stack."""

    activation: str
    init: str
    grad_ratio: np.ndarray  # lowest / top hidden layer weight-gradient norm (>> 1 explodes, << 1 vanishes)
    act_ratio: np.ndarray  # top / lowest hidden layer activation std (<< 1: the signal dies on the way up)

    def row(self, coarse: bool = False) -> str:
        """Return one printed line, min..max over seeds, two significant digits (``coarse``: see verdict_table)."""
        return (
            f"{self.activation:<11}{get_init(self.init).label:<15}"
            f"{_span(self.act_ratio, coarse):>22}{_span(self.grad_ratio, coarse):>22}"
        )


def _span(values: np.ndarray, coarse: bool = False) -> str:
    return f"{_ratio_text(values.min(), coarse)}..{_ratio_text(values.max(), coarse)}"


def _ratio_text(value: float, coarse: bool = False) -> str:
    """Return ``value`` with two significant digits; if ``coarse``, as its nearest power of ten beyond 1e±3."""
    if coarse and np.isfinite(value) and value > 0 and not 1e-3 <= value <= 1e3:
        return f"1e{round(float(np.log10(value))):+03d}"
    return f"{value:.1e}"


def verdict_table(verdicts: list[Verdict], *, coarse: bool = False) -> str:
    """Return the verdicts as a text table (min..max over seeds, two significant digits).

    ``coarse=True`` prints ratios beyond 1e±3 as their nearest power of ten: an exploding stack is chaotic,
    so its exact factor changes with the CPU's rounding (tanh at 4 x Glorot, in its first digit), while its
    order of magnitude does not.
    """
    head = f"{'activation':<11}{'init':<15}{'act std top/lowest':>22}{'grad norm lowest/top':>22}"
    return "\n".join([head] + [v.row(coarse) for v in verdicts])


# ------------------------------------------------------------------------------------------------------------
# Keras' initializers, and TF1 -> Keras 3 for readers of the first edition
# ------------------------------------------------------------------------------------------------------------

# Keras' built-in initializers of the family: class name -> (rule in INITS, distribution).
KERAS_BUILTINS = {
    "GlorotUniform": ("glorot", "uniform"),
    "GlorotNormal": ("glorot", "truncated_normal"),
    "HeUniform": ("he", "uniform"),
    "HeNormal": ("he", "truncated_normal"),
    "LecunUniform": ("lecun", "uniform"),
    "LecunNormal": ("lecun", "truncated_normal"),
}


def keras_sampling_table(shape, seed: int = 0) -> dict[str, tuple[str, str, float, float]]:
    """Sample each Keras built-in on a kernel ``shape``.

    Returns name -> (rule, distribution, the formula's variance, the samples' variance).
    """
    import keras

    table = {}
    for name, (rule, distribution) in KERAS_BUILTINS.items():
        weights = np.asarray(getattr(keras.initializers, name)(seed=seed)(shape), dtype=np.float64)
        table[name] = (rule, distribution, INITS[rule].variance(shape), float(weights.var()))
    return table


# ------------------------------------------------------------------------------------------------------------
# TF1 -> Keras 3, for readers of the first edition
# ------------------------------------------------------------------------------------------------------------

# tf.contrib.layers.variance_scaling_initializer(factor=2.0, mode="FAN_IN", uniform=False) in TF 1.x
# (tensorflow/contrib/layers/python/layers/initializers.py): He, from a truncated normal of stddev
# sqrt(1.3 factor / n).
TF1_CONTRIB_DEFAULTS = {"factor": 2.0, "mode": "FAN_IN", "uniform": False}
TF1_TO_KERAS = {
    "tf.contrib.layers.variance_scaling_initializer()": "keras.initializers.HeNormal()",
    "tf.contrib.layers.xavier_initializer()": "keras.initializers.GlorotUniform()",
    "tf.contrib.layers.xavier_initializer(uniform=False)": "keras.initializers.GlorotNormal()",
    "tf.contrib.layers.variance_scaling_initializer(factor=1.0)": "keras.initializers.LecunNormal()",
}
