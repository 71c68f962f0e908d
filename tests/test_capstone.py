"""The chapter 08 set-ups (utils.capstone): each broken one fails, each repair trains, symptom-only fixes fail,
and the explorer's compute and plot functions work on a small result set."""

from __future__ import annotations

import numpy as np
import pytest

from utils import capstone
from utils.capstone import SETUPS


@pytest.fixture(autouse=True, scope="module")
def _setup():
    from utils.course import setup

    setup()


@pytest.mark.parametrize("name", list(SETUPS))
def test_broken_setup_fails_on_seed_0(name):
    assert capstone.fails(SETUPS[name], capstone.run_setup(name, "broken", 0))


@pytest.mark.parametrize("name", list(SETUPS))
def test_repaired_setup_reaches_its_target_on_seed_0(name):
    run = capstone.run_setup(name, "fixed", 0)
    assert not capstone.fails(SETUPS[name], run)
    assert run.epochs_to(SETUPS[name].target) is not None


@pytest.mark.parametrize("name", [n for n, s in SETUPS.items() if s.symptom_only])
def test_symptom_only_fixes_still_fail(name):
    assert capstone.fails(SETUPS[name], capstone.run_setup(name, "symptom-only", 0))


def test_a_shared_graph_gives_the_same_run_as_a_fresh_model():
    """Seeds of one version reuse one traced graph: the result must not depend on that."""
    capstone.run_setup("dead", "fixed", 0)  # traces the graph that seed 1 then reuses
    shared = capstone.run_setup("dead", "fixed", 1)
    capstone._TRAINERS.clear()
    own = capstone._run_setup("dead", "fixed", 1, None)
    np.testing.assert_allclose(shared.loss, own.loss, rtol=1e-5)


def test_the_transfer_bug_moves_frozen_layers_and_the_fix_does_not():
    broken, fixed = capstone.run_setup("transfer", "broken", 0), capstone.run_setup("transfer", "fixed", 0)
    assert broken.moved.max() > 0.05 and fixed.moved.max() == 0
    assert fixed.other[-1] >= capstone.TRANSFER_NEW_TASK


def test_the_bn_bug_leaves_the_moving_averages_at_their_start_values():
    model = capstone.run_setup("bn_mode", "broken", 0).model
    means = [layer.moving_mean.numpy() for layer in model.layers if "bn" in layer.name]
    assert means and all(np.all(m == 0) for m in means)


def test_source_shows_the_code():
    assert "normal(1.0)" in capstone.source(capstone.broken_exploding)


def test_summary_reads_diverged_runs():
    runs = [capstone.run_setup("exploding", "broken", 0)]
    assert "diverged" in capstone.summary(runs)


def test_explorer_compute_plot_and_widget():
    import matplotlib.pyplot as plt

    from utils.plots import plot_capstone_view, plot_symptoms
    from utils.widgets import capstone_title, explore_capstone

    results = {
        "exploding": {v: capstone.run_setup("exploding", v, 0) for v in ("broken", "fixed", "symptom-only")},
        "rnn": {v: capstone.run_setup("rnn", v, 0) for v in ("broken", "fixed")},
    }
    view = capstone.compute_capstone_view("rnn", "symptom-only", results=results)
    assert view.variant == "broken"  # no symptom-only version: show the broken run
    view = capstone.compute_capstone_view("exploding", "fixed", results=results)
    assert "exploding" in capstone_title(view)
    plot_capstone_view(view)
    plot_capstone_view(capstone.compute_capstone_view("rnn", "fixed", results=results))
    plot_symptoms({name: list(runs.values()) for name, runs in results.items()})
    plt.close("all")
    widget = explore_capstone(results, name="exploding")
    widget.controls["variant"].value = "symptom-only"
    widget.controls["name"].value = "rnn"
    plt.close("all")


def test_compute_capstone_view_is_fast():
    import time

    results = {"exploding": {"broken": capstone.run_setup("exploding", "broken", 0)}}
    start = time.perf_counter()
    for _ in range(20):
        capstone.compute_capstone_view("exploding", "fixed", results=results)
    assert (time.perf_counter() - start) / 20 < 0.05


def test_the_transfer_fix_copies_the_base_instead_of_sharing_it():
    """Chapter 06's first pitfall: reused layers are copied (clone_model, then set_weights), not shared."""
    run = capstone.run_setup("transfer", "fixed", 0)
    assert not any(layer is other for layer in run.model.layers for other in run.base.layers)
    broken = capstone.run_setup("transfer", "broken", 0)
    assert any(layer is other for layer in broken.model.layers for other in broken.base.layers)


def test_the_rnn_fix_clips_by_global_norm():
    from utils.course import seed_everything

    seed_everything(0)
    model = capstone.fixed_rnn()
    assert model.optimizer.global_clipnorm == 1.0 and not model.optimizer.clipnorm


def test_the_spike_ratio_tells_the_broken_rnn_from_the_clipped_one():
    broken = [r.spike for r in capstone.run_over_seeds("rnn", "broken")]
    clipped = [r.spike for r in capstone.run_over_seeds("rnn", "fixed")]
    assert min(broken) > 15 > max(clipped), (broken, clipped)


def test_a_run_is_judged_on_its_last_epochs_within_a_tolerance():
    run = capstone.Run("dead", "x", 0, np.zeros(6), np.array([0.1, 0.5, 0.7, 0.84, 0.83, 0.80]), np.zeros(6))
    assert run.judged == 0.84 and not capstone.fails(SETUPS["dead"], run)  # 0.84 ≥ 0.85 - 0.03
    low = capstone.Run("dead", "x", 0, np.zeros(6), np.array([0.1, 0.5, 0.9, 0.8, 0.8, 0.8]), np.zeros(6))
    assert capstone.fails(SETUPS["dead"], low)  # 0.9 is not among the last 3 epochs
