"""Weight initialization: fans, the Glorot / He / LeCun table, its formulas, what deep stacks do with them.

Taught in chapter 02. Every rule here is one Keras ``VarianceScaling(scale, mode, distribution)``: the weights
get variance ``scale / fan``, where fan is fan_in, fan_out or their average; a uniform law on [-r, r] gets
r = sqrt(3 var) and a normal law sigma = sqrt(var). ``tests/test_init.py`` checks it all against the samples
of Keras' initializers.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from utils import activations
from utils.activations import LEAKY_SLOPE
from utils.blas import single_blas_thread
from utils.diagnostics import LayerStats
from utils.mlp import MLP, layer_stats

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
# Deep stacks: per-layer statistics for any activation x initialization (numpy MLP, fast)
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


@functools.lru_cache(maxsize=3)
def _unit_draws(seed: int):
    """Return N(0, 1) inputs, labels and a (MAX_DEPTH + 1, MAX_WIDTH, MAX_WIDTH) stack of N(0, 1) weights.

    Drawn once per seed (13 MB, ~40 ms): every rule rescales the same numbers, so two initializations are
    compared on the same random draw, and a slider move costs a forward and backward pass only.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((64, 64), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    unit = rng.standard_normal((MAX_DEPTH + 1, MAX_WIDTH, MAX_WIDTH), dtype=np.float32)
    unit.flags.writeable = False
    return X, y, unit


def build_stack(
    activation: str,
    init: str | Init,
    widths: list[int],
    *,
    multiplier: float = 1.0,
    n_inputs: int = 64,
    n_classes: int = 10,
    seed: int = 0,
    dtype=np.float32,
) -> MLP:
    """Return a numpy MLP: hidden ``widths`` initialized by ``init`` (std x ``multiplier``), a Glorot output.

    Parameters
    ----------
    activation : the hidden layers' activation (a name from ``utils.activations``).
    init : a key of ``INITS`` or an :class:`Init`.
    widths : hidden widths, at most MAX_DEPTH layers of at most MAX_WIDTH units.
    multiplier : multiplies every hidden layer's std (1: the rule itself).
    n_inputs, n_classes : input features and output units; seed : which draw of the random weights.
    dtype : float32 (fast) or float64 (room for signals that grow by 1e70, as the explorer's extremes do).
    """
    rule = get_init(init)
    activations.get(activation)
    sizes = [n_inputs, *widths, n_classes]
    if not 1 <= len(widths) <= MAX_DEPTH or max(sizes) > MAX_WIDTH or min(sizes) < 1 or not multiplier > 0:
        raise ValueError(
            f"need 1..{MAX_DEPTH} layers of 1..{MAX_WIDTH} units and multiplier > 0; got {sizes}, {multiplier}"
        )
    unit = _unit_draws(seed)[2]
    weights = []
    for i, shape in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        is_output = i == len(widths)
        std = INITS["glorot"].std(shape) if is_output else rule.std(shape) * multiplier
        weights.append((std * unit[i, : shape[0], : shape[1]]).astype(dtype, copy=False))
    return MLP(weights, [np.zeros(b, dtype) for b in sizes[1:]], activation)


def measure_stack(
    activation: str,
    init: str | Init,
    *,
    depth: int = MAX_DEPTH,
    width: int = MAX_WIDTH,
    pattern: str = "constant",
    multiplier: float = 1.0,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    seed: int = 0,
    dtype=np.float32,
) -> LayerStats:
    """Return the per-layer statistics of a freshly initialized deep stack on one batch.

    Parameters
    ----------
    activation, init : the hidden activation and the initialization rule (see :func:`build_stack`).
    depth, width, pattern : the hidden layers (see :func:`stack_widths`).
    multiplier : multiplies the rule's std.
    X, y : a batch of inputs and integer labels; default: 64 standardized Gaussian inputs of 64 features.
    seed : which draw of random weights (and default inputs); dtype : of the weights and the computation.
    """
    X0, y0, _ = _unit_draws(seed)
    X, y = (X0, y0) if X is None else (np.asarray(X), np.asarray(y))
    widths = stack_widths(depth, width, pattern)
    mlp = build_stack(activation, init, widths, multiplier=multiplier, n_inputs=X.shape[1], seed=seed, dtype=dtype)
    with single_blas_thread():  # small products: threads cost more than they bring (76 s vs 1.8 s under load)
        return layer_stats(mlp, X.astype(dtype, copy=False), y)


def leaky_stack_std(alpha: float, scale: float, *, depth: int = MAX_DEPTH, width: int = MAX_WIDTH, seed: int = 0):
    """Return the activation std per layer of a leaky-ReLU stack (slope ``alpha``), Var(W) = scale / fan_in.

    Forward only, for any slope (``utils.activations.leaky_relu`` takes it as an argument).
    """
    X, _, unit = _unit_draws(seed)
    if not 1 <= depth <= MAX_DEPTH or not 1 <= width <= MAX_WIDTH:
        raise ValueError(f"need 1 <= depth <= {MAX_DEPTH} and 1 <= width <= {MAX_WIDTH}; got {depth}, {width}")
    h, stds = X, []
    for i in range(depth):
        z = h @ (math.sqrt(scale / h.shape[1]) * unit[i, : h.shape[1], :width])
        h = activations.leaky_relu(z, alpha)
        stds.append(float(h.std()))
    return np.array(stds)


@dataclass(frozen=True)
class StackVerdict:
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


def compare_stacks(combos, *, seeds=(0, 1, 2), **kwargs) -> list[StackVerdict]:
    """Return a :class:`StackVerdict` per ``(activation, init)`` in ``combos``, over ``seeds``.

    Other keyword arguments go to :func:`measure_stack` (depth, width, pattern, multiplier, X, y).
    """
    verdicts = []
    for activation, init in combos:
        stats = [measure_stack(activation, init, seed=s, **kwargs) for s in seeds]
        verdicts.append(
            StackVerdict(
                activation,
                init if isinstance(init, str) else init.label,
                np.array([s.vanishing_ratio() for s in stats]),
                np.array([s.act_std[-2] / s.act_std[0] for s in stats]),
            )
        )
    return verdicts


def verdict_table(verdicts: list[StackVerdict], *, coarse: bool = False) -> str:
    """Return the verdicts as a text table (min..max over seeds, two significant digits).

    ``coarse=True`` prints ratios beyond 1e±3 as their nearest power of ten: an exploding stack is chaotic,
    so its exact factor changes with the CPU's rounding (tanh at 4 x Glorot, in its first digit), while its
    order of magnitude does not.
    """
    head = f"{'activation':<11}{'init':<15}{'act std top/lowest':>22}{'grad norm lowest/top':>22}"
    return "\n".join([head] + [v.row(coarse) for v in verdicts])


def compute_init_stats(
    activation: str = "tanh",
    init: str = "glorot",
    depth: int = 30,
    multiplier: float = 1.0,
    pattern: str = "constant",
    *,
    width: int = 128,
    seed: int = 0,
) -> LayerStats:
    """Return per-layer statistics for the chapter 02 explorer (pure and fast: ~10-30 ms).

    ``pattern="bottleneck"`` alternates ``width`` and ``width // 4`` units, where fan_in and fan_out differ
    and the choice of fan starts to matter. Computed in float32, and again in float64 when a signal leaves
    float32's range (ReLU at 4 x Glorot x 10 grows by ~1e70 over 50 layers), so that every setting stays finite.
    """
    kwargs = dict(depth=depth, width=width, pattern=pattern, multiplier=multiplier, seed=seed)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"), single_blas_thread():
        stats = measure_stack(activation, init, **kwargs)
        if not (np.all(np.isfinite(stats.grad_norm)) and all(np.all(np.isfinite(s)) for s in stats.samples)):
            stats = measure_stack(activation, init, dtype=np.float64, **kwargs)
    big = float(np.finfo(np.float32).max)  # the histogram samples are float32
    stats.samples = [np.nan_to_num(s, nan=0.0, posinf=big, neginf=-big) for s in stats.samples]
    return stats


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
