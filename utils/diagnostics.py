"""Per-layer diagnostics of the forward and backward pass, for the numpy MLP and for any sequential Keras model.

Taught in chapter 01 and used in every chapter after it: activation mean/std, the fraction of saturated and
dead units, the gradient norm per layer, and the gradient-to-weight and update-to-weight ratios.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from utils.activations import saturated_fraction

HISTOGRAM_SAMPLE = 4000  # values kept per layer for histograms: enough for a smooth plot, cheap to keep


@dataclass
class LayerStats:
    """Per-layer statistics, one entry per layer with weights (hidden layers first, the output layer last)."""

    names: list[str]
    activation: list[str]
    act_mean: np.ndarray
    act_std: np.ndarray
    frac_saturated: np.ndarray
    frac_dead: np.ndarray
    grad_norm: np.ndarray
    grad_std: np.ndarray
    grad_to_weight: np.ndarray
    samples: list[np.ndarray] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.names)

    def vanishing_ratio(self) -> float:
        """Return the lowest hidden layer's gradient norm divided by the top hidden layer's (<< 1: vanishing)."""
        if len(self) < 3:
            raise ValueError("the ratio needs at least two hidden layers below the output layer")
        return float(self.grad_norm[0] / self.grad_norm[-2])

    def table(self, digits: int = 3) -> str:
        """Return a compact text table, rounded so that it prints the same on every run."""
        head = f"{'layer':<10}{'act':>8}{'mean':>9}{'std':>9}{'sat%':>7}{'dead%':>7}{'|dW|':>11}{'dW/W':>11}"
        rows = [head]
        for i, name in enumerate(self.names):
            rows.append(
                f"{name:<10}{self.activation[i][:7]:>8}{self.act_mean[i]:>9.{digits}f}{self.act_std[i]:>9.{digits}f}"
                f"{100 * self.frac_saturated[i]:>7.1f}{100 * self.frac_dead[i]:>7.1f}"
                f"{self.grad_norm[i]:>11.{digits - 1}e}{self.grad_to_weight[i]:>11.{digits - 1}e}"
            )
        return "\n".join(rows)


def summarize(names, activation_names, outputs, output_grads, kernels, kernel_grads) -> LayerStats:
    """Build :class:`LayerStats` from per-layer arrays (outputs are ``(batch, units...)``)."""

    def sample(a):
        flat = np.asarray(a, dtype=np.float32).ravel()
        return flat[:: max(1, flat.size // HISTOGRAM_SAMPLE)]  # an even stride: deterministic and cheap

    def norm(a):
        return float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))  # float64: exploding grads stay finite

    def dead(a):
        units = np.asarray(a).reshape(len(a), -1)
        return float(np.mean(np.all(units == 0, axis=0)))

    return LayerStats(
        names=list(names),
        activation=list(activation_names),
        act_mean=np.array([float(np.mean(a)) for a in outputs]),
        act_std=np.array([float(np.std(a, dtype=np.float64)) for a in outputs]),
        frac_saturated=np.array([saturated_fraction(n, a) for n, a in zip(activation_names, outputs, strict=True)]),
        frac_dead=np.array([dead(a) for a in outputs]),
        grad_norm=np.array([norm(g) for g in kernel_grads]),
        grad_std=np.array([float(np.std(g, dtype=np.float64)) for g in output_grads]),
        grad_to_weight=np.array(
            [
                float(np.std(g, dtype=np.float64) / max(np.std(w), 1e-12))
                for g, w in zip(kernel_grads, kernels, strict=True)
            ]
        ),
        samples=[sample(a) for a in outputs],
    )


# ---------------------------------------------------------------------------------------------------------
# Keras models
# ---------------------------------------------------------------------------------------------------------


def _blocks(model):
    """Group a chain of layers into blocks: a layer with a kernel plus the kernel-free layers after it."""
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(
            f"expected a keras Model, got {type(model).__name__}: pass a keras.Sequential or functional model"
        )
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not layers:
        raise ValueError("the model has no layers: add layers (e.g. keras.layers.Dense) before diagnosing it")
    if not model.built:
        raise ValueError(
            "the model is not built yet, so it has no weights: start it with keras.Input(shape=...) "
            "or call model.build(input_shape) / model(x) once"
        )
    blocks = []
    for layer in layers:
        if hasattr(layer, "kernel"):
            blocks.append([layer])
        elif blocks:
            blocks[-1].append(layer)
    if not blocks:
        raise ValueError("the model has no layer with a kernel (Dense, Conv...): nothing to diagnose")
    return layers, blocks


_NOT_A_CHAIN = (
    "diagnostics follow a chain of layers: pass a keras.Sequential model or a functional model "
    "without branches (each layer feeding only the next)"
)


def _require_chain(model, x, chained, training) -> None:
    """Raise unless running the layers one after another gives the model's own output (no branches)."""
    import keras

    if isinstance(model, keras.Sequential) or training:
        return
    if not np.allclose(model(x, training=False).numpy(), chained.numpy(), atol=1e-5):
        raise ValueError(_NOT_A_CHAIN)


# Keras layers that are activations, by class name (RReLU is the course's own, utils.layers.RReLU).
_ACTIVATION_LAYERS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "ELU": "elu", "PReLU": "prelu", "RReLU": "rrelu"}


def _activation_name(block) -> str:
    name = "linear"
    for layer in block:
        fn = getattr(layer, "activation", None)
        if fn is not None and getattr(fn, "__name__", None):
            name = fn.__name__
        elif type(layer).__name__ in _ACTIVATION_LAYERS:
            name = _ACTIVATION_LAYERS[type(layer).__name__]
    return name


def default_loss(model, last_block=None):
    """Return the model's compiled loss, else sparse cross-entropy (from logits unless the last block has a softmax).

    ``last_block``: the layers that end the model (default: its last layer).
    """
    import keras

    last_block = [model.layers[-1]] if last_block is None else last_block

    if getattr(model, "loss", None) is not None:
        return keras.losses.get(model.loss)
    from_logits = _activation_name(last_block) != "softmax"
    return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)


def keras_layer_stats(model, x, y, loss_fn=None, *, training: bool = False) -> LayerStats:
    """Return per-layer forward and backward statistics of a sequential Keras model on one batch.

    Parameters
    ----------
    model : a built keras.Sequential, or a functional model whose layers form a chain.
    x, y : one batch of inputs and targets.
    loss_fn : a Keras loss; default: the model's compiled loss, else sparse categorical cross-entropy
        (from logits unless the last layer has a softmax).
    training : run layers in training mode (dropout active, batch statistics in BN).

    Returns
    -------
    LayerStats, one entry per layer with a kernel; each entry's outputs are those of its block (the kernel
    layer plus the activation, normalization or dropout layers that follow it).
    """
    import tensorflow as tf

    layers, blocks = _blocks(model)
    block_end = {id(block[-1]): i for i, block in enumerate(blocks)}
    loss_fn = loss_fn or default_loss(model, blocks[-1])
    x = tf.convert_to_tensor(x)
    outputs = [None] * len(blocks)
    with tf.GradientTape() as tape:
        h = x
        try:
            for layer in layers:
                h = layer(h, training=training)
                if id(layer) in block_end:
                    outputs[block_end[id(layer)]] = h
        except (ValueError, TypeError) as exc:  # a layer fed the wrong tensor: the model branches
            raise ValueError(f"{_NOT_A_CHAIN} (running the layers in order failed: {exc})") from exc
        loss = loss_fn(y, h)
    _require_chain(model, x, h, training)
    kernels = [block[0].kernel for block in blocks]
    kernel_grads, output_grads = tape.gradient(loss, [kernels, outputs])
    for block, grad in zip(blocks, kernel_grads, strict=True):
        if grad is None:
            raise ValueError(
                f"the loss does not depend on layer {block[0].name!r}: is there a non-differentiable step "
                "(argmax, rounding, a cast to int) between that layer and the output?"
            )
    output_grads = [np.zeros(o.shape) if g is None else g.numpy() for o, g in zip(outputs, output_grads, strict=True)]
    return summarize(
        [block[0].name for block in blocks],
        [_activation_name(block) for block in blocks],
        [o.numpy() for o in outputs],
        output_grads,
        [k.numpy() for k in kernels],
        [g.numpy() for g in kernel_grads],
    )


def kernel_gradient_norms(model, x, y, loss_fn=None) -> np.ndarray:
    """Return the Frobenius norm of the loss gradient for each layer's kernel, lowest layer first."""
    return keras_layer_stats(model, x, y, loss_fn).grad_norm


def _kernels(model) -> list[np.ndarray]:
    return [block[0].kernel.numpy().copy() for block in _blocks(model)[1]]


def _make_callback_base():
    import keras

    return keras.callbacks.Callback


def DiagnosticsCallback(x, y, *, every: int = 1, loss_fn=None):  # noqa: N802 (a class factory, used like a class)
    """Return a Keras callback that records per-layer statistics while a model trains.

    Every ``every`` epochs it records :func:`keras_layer_stats` on ``(x, y)`` (``.stats``), the
    update-to-weight ratio of the epoch's first step, std(W_after - W_before) / std(W_before)
    (``.update_ratio``; about 1e-3 is healthy), and how far each kernel moved from its initial value,
    ||W - W_0|| / ||W_0|| (``.moved``). Arrays have one row per recorded epoch and one column per layer.
    """
    base = _make_callback_base()

    class _Diagnostics(base):
        def __init__(self):
            super().__init__()
            self.stats, self._update, self._moved, self.epochs = [], [], [], []
            self._start = self._before = None

        def on_train_begin(self, logs=None):
            self._start = _kernels(self.model)

        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:
                self._before = _kernels(self.model)

        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                after = _kernels(self.model)
                self._step = [np.std(a - b) / max(np.std(b), 1e-12) for a, b in zip(after, self._before, strict=True)]

        def on_epoch_end(self, epoch, logs=None):
            if epoch % every:
                return
            now = _kernels(self.model)
            self.epochs.append(epoch + 1)
            self.stats.append(keras_layer_stats(self.model, x, y, loss_fn))
            self._update.append(self._step)
            self._moved.append(
                [np.linalg.norm(w - w0) / np.linalg.norm(w0) for w, w0 in zip(now, self._start, strict=True)]
            )

        @property
        def update_ratio(self) -> np.ndarray:
            return np.array(self._update)

        @property
        def moved(self) -> np.ndarray:
            return np.array(self._moved)

        @property
        def grad_norm(self) -> np.ndarray:
            return np.array([s.grad_norm for s in self.stats])

    return _Diagnostics()


def ProgressLine(total_epochs: int, *, every: int = 1):  # noqa: N802 (a class factory, used like a class)
    """Return a Keras callback that prints one updating line of progress instead of pages of logs."""
    base = _make_callback_base()

    class _Progress(base):
        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % every == 0 or epoch + 1 == total_epochs:
                items = "  ".join(f"{k}={v:.4f}" for k, v in sorted((logs or {}).items()))
                end = "\n" if epoch + 1 == total_epochs else "\r"
                print(f"epoch {epoch + 1:>3}/{total_epochs}  {items}", end=end, flush=True)

    return _Progress()
