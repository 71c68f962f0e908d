"""The shared Keras model builders."""

import keras
import numpy as np
import pytest

from utils.models import build_mlp, fresh_initializer


@pytest.mark.parametrize(
    "initializer", ["he_normal", keras.initializers.HeNormal, keras.initializers.VarianceScaling(2.0, "fan_in")]
)
def test_every_layer_gets_its_own_kernel(initializer):
    keras.utils.set_random_seed(0)
    model = build_mlp(3, 8, "relu", kernel_initializer=initializer, n_inputs=8)
    kernels = [layer.kernel.numpy() for layer in model.layers[:3]]
    assert not np.allclose(kernels[1], kernels[2])
    keras.utils.set_random_seed(0)
    again = build_mlp(3, 8, "relu", kernel_initializer=initializer, n_inputs=8)
    np.testing.assert_array_equal(kernels[2], again.layers[2].kernel.numpy())


def test_fresh_initializer_keeps_the_settings():
    fresh = fresh_initializer(keras.initializers.VarianceScaling(3.0, "fan_avg", "uniform", seed=1))
    config = fresh.get_config()
    assert (config["scale"], config["mode"], config["distribution"], config["seed"]) == (
        3.0,
        "fan_avg",
        "uniform",
        None,
    )


def test_batch_norm_blocks_and_bad_sizes():
    model = build_mlp(2, 4, "tanh", batch_norm=True)
    assert [type(layer).__name__ for layer in model.layers[:3]] == ["Dense", "BatchNormalization", "Activation"]
    with pytest.raises(ValueError, match="depth >= 1"):
        build_mlp(0, 4)
