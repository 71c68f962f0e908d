"""utils.doctor.doctor: it names the right cause on every broken set-up of chapter 08, and stays quiet on
healthy models (fresh and trained, dense, BN, transfer and recurrent)."""

from __future__ import annotations

import functools

import pytest

from utils import capstone
from utils.capstone import SETUPS
from utils.doctor import doctor


@pytest.fixture(autouse=True, scope="module")
def _setup():
    from utils.course import setup

    setup()


def fresh(build, seed=0):
    from utils.course import seed_everything

    seed_everything(seed)
    return build()


def patient(name: str, seed: int = 0):
    """Return (model, x, y): the fresh broken network, or the trained one where the bug is in the training code."""
    x, y = capstone.stats_batch(name)
    if name in ("bn_mode", "transfer"):
        return capstone.run_setup(name, "broken", seed).model, x, y
    return fresh(SETUPS[name].broken, seed), x, y


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", list(SETUPS))
def test_doctor_names_the_cause_of_every_broken_setup(name, seed):
    keys = [f.key for f in doctor(*patient(name, seed), quiet=True)]
    assert set(SETUPS[name].causes) <= set(keys), keys


@pytest.mark.parametrize("name", ["vanishing", "exploding", "dead", "rnn"])
def test_the_named_cause_comes_first(name):
    findings = doctor(*patient(name), quiet=True)
    assert findings[0].key == SETUPS[name].causes[0]


def test_each_finding_links_an_existing_chapter():
    from tools.notebooks import ROOT
    from utils.doctor import CHAPTERS

    for name in SETUPS:
        for finding in doctor(*patient(name), quiet=True):
            assert (ROOT / "chapters" / CHAPTERS[finding.chapter]).exists()
            assert finding.evidence and finding.fix


def _healthy_models():
    import keras

    x, y = capstone.stats_batch("dead")
    seq_x, seq_y = capstone.stats_batch("rnn")
    yield "fresh He ReLU stack", fresh(capstone.fixed_dead), x, y
    yield (
        "Keras defaults (Glorot, ReLU, logits)",
        fresh(
            lambda: keras.Sequential(
                [
                    keras.Input((64,)),
                    keras.layers.Dense(32, "relu"),
                    keras.layers.Dense(32, "relu"),
                    keras.layers.Dense(10),
                ]
            )
        ),
        x,
        y,
    )
    yield "fresh BN stack", fresh(capstone.broken_bn_model), x, y
    for name in ("vanishing", "bn_mode", "mystery"):
        yield f"trained {name} repair", capstone.run_setup(name, "fixed", 0).model, x, y
    yield "transfer repair", capstone.run_setup("transfer", "fixed", 0).model, *capstone.stats_batch("transfer")
    yield "clipped RNN", fresh(capstone.fixed_rnn), seq_x, seq_y

    def tanh_rnn():
        return capstone.compile_model(capstone.sum_rnn("tanh"), learning_rate=capstone.LEARNING_RATE, loss="mse")

    yield "tanh RNN without clipping", fresh(tanh_rnn), seq_x, seq_y
    yield "trained clipped RNN", capstone.run_setup("rnn", "fixed", 0).model, seq_x, seq_y


def _digits_model(*layers, optimizer=None):
    import keras

    model = keras.Sequential([keras.Input((64,)), *layers])
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", jit_compile=False
    )
    return model


def _cnn():
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", jit_compile=False)
    return model


def _refrozen_same_optimizer():
    """Fit, freeze the hidden layers, compile again with the SAME optimizer, fit again: correct, no finding."""
    import keras

    data = capstone.transfer_data()
    model = keras.Sequential(
        [keras.Input((64,)), *capstone.base_model(0).layers[:-1], keras.layers.Dense(5, activation="softmax")]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", jit_compile=False)
    model.fit(data.X_train, data.y_train, epochs=1, batch_size=10, verbose=0)
    for layer in model.layers[:-1]:
        layer.trainable = False
    model.compile(optimizer=model.optimizer, loss="sparse_categorical_crossentropy", jit_compile=False)
    model.fit(data.X_train, data.y_train, epochs=2, batch_size=10, verbose=0)
    return model


def _more_healthy_models():
    import keras

    x, y = capstone.stats_batch("dead")
    yield "dense, Adam 1e-3", fresh(lambda: _digits_model(*_relu_layers(3), keras.layers.Dense(10, "softmax"))), x, y
    yield (
        "dropout",
        fresh(
            lambda: _digits_model(
                keras.layers.Dense(64, "relu"),
                keras.layers.Dropout(0.3),
                keras.layers.Dense(64, "relu"),
                keras.layers.Dropout(0.3),
                keras.layers.Dense(10, "softmax"),
            )
        ),
        x,
        y,
    )
    yield "CNN", fresh(_cnn), x.reshape(-1, 8, 8, 1), y
    trained_cnn = fresh(_cnn)
    trained_cnn.fit(x.reshape(-1, 8, 8, 1), y, epochs=3, batch_size=32, verbose=0)
    yield "trained CNN", trained_cnn, x.reshape(-1, 8, 8, 1), y
    yield (
        "re-frozen, recompiled with the same optimizer",
        fresh(_refrozen_same_optimizer),
        *capstone.stats_batch("transfer"),
    )


def _relu_layers(n):
    import keras

    return [keras.layers.Dense(32, "relu") for _ in range(n)]


HEALTHY = 10 + 5


@functools.cache
def _all_healthy() -> list:
    return [*_healthy_models(), *_more_healthy_models()]


@pytest.mark.parametrize("case", range(HEALTHY))
def test_doctor_stays_quiet_on_healthy_models(case, capsys):
    label, model, x, y = _all_healthy()[case]
    assert doctor(model, x, y) == [], label
    assert "nothing looks wrong" in capsys.readouterr().out


def test_freezing_after_fit_without_compiling_is_found_and_restored():
    """The transfer bug: the finding comes from one fit step, and the model is left exactly as it was."""
    import numpy as np

    model, x, y = patient("transfer")
    before = [w.copy() for w in model.get_weights()]
    steps = int(model.optimizer.iterations.numpy())
    assert [f.key for f in doctor(model, x, y, quiet=True)] == ["frozen_train"]
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before, strict=True))
    assert int(model.optimizer.iterations.numpy()) == steps


def test_doctor_has_no_private_attribute_rule():
    from pathlib import Path

    import utils.doctor

    assert "optimizer._trainable_variables" not in Path(utils.doctor.__file__).read_text()


def test_unscaled_inputs_lead_the_report(capsys):
    from utils.data import load_digits_splits

    raw = load_digits_splits(standardize=False)
    findings = doctor(fresh(capstone.fixed_dead), raw.X_train[:256], raw.y_train[:256])
    out = capsys.readouterr().out
    assert findings[0].key == "unscaled_inputs" and "likely problem" in out.splitlines()[0]
    assert "unscaled inputs" in out.splitlines()[0] and "mean 4.87 and std 5.98" in out


def test_a_normalization_layer_counts_as_scaling():
    import keras

    from utils.data import load_digits_splits

    raw = load_digits_splits(standardize=False)
    norm = keras.layers.Normalization()
    norm.adapt(raw.X_train)
    model = fresh(lambda: _digits_model(norm, *_relu_layers(2), keras.layers.Dense(10, "softmax")))
    assert "unscaled_inputs" not in [f.key for f in doctor(model, raw.X_train[:256], raw.y_train[:256], quiet=True)]


def _regression(targets):
    import keras
    import numpy as np

    x, _ = capstone.stats_batch("dead")
    rng = np.random.default_rng(0)
    y = (targets["mean"] + targets["std"] * (x[:, 10] + 0.3 * rng.normal(size=len(x)))).astype("float32")
    model = fresh(lambda: keras.Sequential([keras.Input((64,)), *_relu_layers(2), keras.layers.Dense(1)]))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=False)
    return model, x, y


def test_unscaled_regression_targets_are_not_called_exploding_gradients(capsys):
    findings = doctor(*_regression({"mean": 1e4, "std": 3e3}))
    head = capsys.readouterr().out.splitlines()[0]
    assert [f.key for f in findings] == ["unscaled_targets"], findings
    assert "unscaled regression targets" in head and "exploding" not in head


def test_standardized_regression_targets_are_fine():
    assert doctor(*_regression({"mean": 0.0, "std": 1.0}), quiet=True) == []


@pytest.mark.parametrize("trained", [False, True])
def test_a_too_high_adam_rate_is_named_and_not_blamed_on_the_initialization(trained, capsys):
    import keras

    model = fresh(
        lambda: _digits_model(*_relu_layers(3), keras.layers.Dense(10, "softmax"), optimizer=keras.optimizers.Adam(0.1))
    )
    x, y = capstone.stats_batch("dead")
    if trained:
        d = capstone.digits()
        model.fit(d.X_train, d.y_train, epochs=3, batch_size=32, verbose=0)
    findings = doctor(model, x, y)
    out = capsys.readouterr().out
    assert findings[0].key == "too_high_lr", [f.key for f in findings]
    assert "too high a learning rate" in out.splitlines()[0]
    assert "initial weights" not in out


def test_healthy_learning_rates_give_small_update_ratios():
    import keras
    import numpy as np

    from utils.doctor import UPDATE_RATIO_HIGH, update_ratios

    x, y = capstone.stats_batch("dead")
    for optimizer in (keras.optimizers.SGD(0.05), keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-2)):
        model = fresh(
            lambda opt=optimizer: _digits_model(*_relu_layers(3), keras.layers.Dense(10, "softmax"), optimizer=opt)
        )
        ratios = update_ratios(model, x, y)
        assert 1e-4 < np.median(ratios) and ratios.max() < UPDATE_RATIO_HIGH / 3, (optimizer, ratios)


def test_doctor_prints_each_finding_with_its_chapter(capsys):
    findings = doctor(*patient("mystery"))
    out = capsys.readouterr().out
    assert len(findings) == 2 and "2 likely problems" in out
    assert "chapters/03_nonsaturating_activations.ipynb" in out and "chapters/02_initialization.ipynb" in out


def test_doctor_says_when_its_statistics_do_not_apply(capsys):
    import keras

    inputs = keras.Input((64,))
    a, b = keras.layers.Dense(8, "relu")(inputs), keras.layers.Dense(8, "relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10, "softmax")(keras.layers.Concatenate()([a, b])))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert doctor(model, *capstone.stats_batch("dead")) == []
    out = capsys.readouterr().out
    assert "nothing looks wrong" not in out
    assert "do not apply to this model" in out and "only the checks that ran are reported" in out


def test_a_branching_model_still_gets_the_checks_that_run():
    import keras

    from utils.data import load_digits_splits

    raw = load_digits_splits(standardize=False)
    inputs = keras.Input((64,))
    a, b = keras.layers.Dense(8, "relu")(inputs), keras.layers.Dense(8, "relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10, "softmax")(keras.layers.Concatenate()([a, b])))
    model.compile(optimizer=keras.optimizers.Adam(1.0), loss="sparse_categorical_crossentropy")
    assert [f.key for f in doctor(model, raw.X_train[:256], raw.y_train[:256], quiet=True)] == ["unscaled_inputs"]
    assert [f.key for f in doctor(model, *capstone.stats_batch("dead"), quiet=True)] == ["too_high_lr"]


def test_doctor_reports_nan_weights():
    import numpy as np

    model = fresh(capstone.fixed_dead)
    weights = model.get_weights()
    weights[0][0, 0] = np.nan
    model.set_weights(weights)
    keys = [f.key for f in doctor(model, *capstone.stats_batch("dead"), quiet=True)]
    assert "exploding" in keys
