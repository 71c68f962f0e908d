"""utils.diagnostics.doctor: it names the right cause on every broken set-up of chapter 08, and stays quiet on
healthy models (fresh and trained, dense, BN, transfer and recurrent)."""

from __future__ import annotations

import pytest

from utils import capstone
from utils.capstone import SETUPS
from utils.diagnostics import doctor


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
    from tests.notebooks import ROOT
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
    yield "tanh RNN without clipping", fresh(lambda: capstone.compile_rnn(capstone.sum_rnn("tanh"))), seq_x, seq_y
    yield "trained clipped RNN", capstone.run_setup("rnn", "fixed", 0).model, seq_x, seq_y


@pytest.mark.parametrize("case", range(10))
def test_doctor_stays_quiet_on_healthy_models(case, capsys):
    label, model, x, y = list(_healthy_models())[case]
    assert doctor(model, x, y) == [], label
    assert "nothing looks wrong" in capsys.readouterr().out


def test_doctor_prints_each_finding_with_its_chapter(capsys):
    findings = doctor(*patient("mystery"))
    out = capsys.readouterr().out
    assert len(findings) == 2 and "2 likely problems" in out
    assert "chapters/03_nonsaturating_activations.ipynb" in out and "chapters/02_initialization.ipynb" in out


def test_doctor_accepts_a_model_it_cannot_walk_layer_by_layer():
    import keras

    inputs = keras.Input((64,))
    a, b = keras.layers.Dense(8, "relu")(inputs), keras.layers.Dense(8, "relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10, "softmax")(keras.layers.Concatenate()([a, b])))
    assert doctor(model, *capstone.stats_batch("dead"), quiet=True) == []


def test_doctor_reports_nan_weights():
    import numpy as np

    model = fresh(capstone.fixed_dead)
    weights = model.get_weights()
    weights[0][0, 0] = np.nan
    model.set_weights(weights)
    keys = [f.key for f in doctor(model, *capstone.stats_batch("dead"), quiet=True)]
    assert "exploding" in keys
