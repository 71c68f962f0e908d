"""Keras layers of the course: randomized leaky ReLU as a layer.

Taught in chapter 03. Keras 3 has ``LeakyReLU``, ``PReLU`` and ``ELU`` layers and the ``selu``, ``gelu`` and
``silu`` activations, but no RReLU: :class:`RReLU` fills the gap and saves and loads like any Keras layer.
The MLP builder that puts these layers in a network is ``utils.models.build_mlp`` (``activation_layer`` there);
the numpy twin of these networks, fast enough to compare activations over seeds, is :mod:`utils.nets`.
"""

from __future__ import annotations

import keras

from utils import activations
from utils.nets import PRELU_INITIAL_SLOPE

__all__ = ["PRELU_INITIAL_SLOPE", "RReLU"]


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
