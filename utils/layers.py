"""Keras layers of the course: randomized leaky ReLU as a layer, activation layers by name, an MLP builder.

Taught in chapter 03. Keras 3 has ``LeakyReLU``, ``PReLU`` and ``ELU`` layers and the ``selu``, ``gelu`` and
``silu`` activations, but no RReLU: :class:`RReLU` fills the gap and saves and loads like any Keras layer.
The numpy twin of these networks, fast enough to compare activations over seeds, is :mod:`utils.mlp`.
"""

from __future__ import annotations

import keras

from utils import activations
from utils.mlp import PRELU_INITIAL_SLOPE, RECOMMENDED_INIT

__all__ = ["KERAS_INIT", "PRELU_INITIAL_SLOPE", "RECOMMENDED_INIT", "RReLU", "activation_layer", "build_activation_mlp"]

# ---------------------------------------------------------------------------------------------------------
# Keras
# ---------------------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="course")
class RReLU(keras.layers.Layer):
    """Randomized leaky ReLU, PyTorch's variant (``torch.nn.RReLU``): z for z >= 0, a * z for z < 0.

    In training, ``a`` is drawn from U(lower, upper) for every element of every batch (a regularizer, like
    dropout); at inference it is the mean slope (lower + upper) / 2, so predictions are deterministic.
    Xu et al. (2015) divide instead: y = z / a with a ~ U(3, 8) (slopes 1/a span the same 1/8..1/3, but not
    uniformly) and y = z / 5.5 at test time (slope 0.18, not 0.23); chapter 03 compares the two.

    Parameters
    ----------
    lower, upper : the range of the random slope, 0 <= lower <= upper (default 1/8 and 1/3, PyTorch's).
    seed : seeds the slopes' generator (None: from Keras' global seed, see ``keras.utils.set_random_seed``).
    """

    def __init__(
        self,
        lower: float = activations.RRELU_LOWER,
        upper: float = activations.RRELU_UPPER,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0 <= lower <= upper:
            raise ValueError(f"RReLU needs 0 <= lower <= upper, got lower={lower}, upper={upper}")
        self.lower, self.upper, self.seed = float(lower), float(upper), seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True  # no weights of its own

    @property
    def mean_slope(self) -> float:
        """Return the slope used at inference, (lower + upper) / 2."""
        return (self.lower + self.upper) / 2

    def call(self, inputs, training=False):
        if training:
            shape = keras.ops.shape(inputs)
            slope = keras.random.uniform(
                shape, self.lower, self.upper, dtype=self.compute_dtype, seed=self.seed_generator
            )
        else:
            slope = self.mean_slope
        return keras.ops.where(inputs >= 0, inputs, slope * inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "lower": self.lower, "upper": self.upper, "seed": self.seed}


# The initializer that keeps each activation's signal at a steady scale (chapter 02).
KERAS_INIT = {"glorot": "glorot_normal", "he": "he_normal", "lecun": "lecun_normal"}


def activation_layer(activation: str, **kwargs) -> keras.layers.Layer:
    """Return a Keras layer for ``activation``, including ``"rrelu"`` and ``"prelu"`` (slopes start at 0.25).

    ``"leaky_relu"`` gets the course's slope 0.2 (the function's default; the ``LeakyReLU`` layer's is 0.3).
    Keyword arguments (``name``...) go to the layer.
    """
    if activation == "rrelu":
        return RReLU(**kwargs)
    if activation == "prelu":
        return keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(PRELU_INITIAL_SLOPE), **kwargs)
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=activations.LEAKY_SLOPE, **kwargs)
    return keras.layers.Activation(activation, **kwargs)


def build_activation_mlp(
    depth: int,
    width: int,
    activation: str,
    *,
    init: str | None = None,
    bias_initializer="zeros",
    n_inputs: int = 64,
    n_classes: int = 10,
) -> keras.Sequential:
    """Return a Sequential MLP of ``depth`` Dense layers, each followed by a layer of ``activation``.

    Parameters
    ----------
    depth, width : number and width of the hidden layers.
    activation : a Keras activation name, ``"rrelu"`` or ``"prelu"``.
    init : ``"glorot"``, ``"he"`` or ``"lecun"`` (normal); default: the one recommended for the activation.
    bias_initializer : for the hidden layers (e.g. a negative constant, to kill ReLU units on purpose).
    n_inputs, n_classes : input features and classes (64 and 10 for the digits).
    """
    init = init or RECOMMENDED_INIT.get(activation, "glorot")
    layers = [keras.Input(shape=(n_inputs,))]
    for i in range(depth):
        layers.append(
            keras.layers.Dense(
                width,
                kernel_initializer=KERAS_INIT[init],
                bias_initializer=bias_initializer,
                name=f"dense_{i + 1}",
            )
        )
        layers.append(activation_layer(activation, name=f"{activation}_{i + 1}"))
    layers.append(keras.layers.Dense(n_classes, activation="softmax", name="output"))
    return keras.Sequential(layers, name=f"mlp_{depth}x{width}_{activation}")
