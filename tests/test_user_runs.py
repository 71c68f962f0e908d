"""Offline, determinism and re-run: the notebooks behave for a user as they do in CI.

How ``make test`` proves it, executing each notebook as few times as it can:
- **offline**: both pytest runs of ``make test`` start inside tests/support/offline.py, a network namespace where only
  loopback is up, so every notebook (nbval's pass, the re-runs, the exercise runs, the browser's kernels) and every
  test runs with the network cut. ``test_the_network_is_cut`` below checks that this run really is cut, and is
  skipped, loudly (a failure under ``CI=true``), where the machine cannot make a namespace;
- **re-run and determinism**: tests/support/user_runs.py, loaded next to ``--nbval``, follows nbval's run of each
  chapter and solution with a second run in a fresh kernel in the same folder, whose compared outputs must equal the
  saved ones (which nbval's first run matched), and which must leave no new untracked file outside git-ignored
  folders.

This module tests that machinery: the network check, the wrapper's fallback, and the comparison.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys

import nbformat
import pytest

from tests.support import offline
from tests.support.notebooks import ROOT
from tests.support.user_runs import (
    SANITIZE_FILE,
    cannot_run,
    network_status,
    output_differences,
    sanitize_patterns,
    second_numeric_path,
    untracked_files,
)

PUBLIC = [("1.1.1.1", 53), ("8.8.8.8", 443), ("pypi.org", 443)]


# ------------------------------------------------------------------------------------------------------------
# Offline
# ------------------------------------------------------------------------------------------------------------


def test_the_network_is_cut():
    status = network_status()
    if status != offline.CUT:
        cannot_run(f"the offline test did NOT run: the network is {status}")
    assert offline.interfaces() == ["lo"], f"interfaces besides loopback: {offline.interfaces()}"
    for host, port in PUBLIC:
        with pytest.raises(OSError) as refused:
            socket.create_connection((host, port), timeout=5).close()
        assert not isinstance(refused.value, TimeoutError), f"{host}:{port} timed out instead of being refused"
        if not isinstance(refused.value, socket.gaierror):
            assert refused.value.errno == errno.ENETUNREACH, refused.value
    with socket.create_server(("127.0.0.1", 0)) as server:  # the kernels' loopback still works
        socket.create_connection(server.getsockname(), timeout=5).close()


def test_the_wrapper_says_loudly_when_it_cannot_cut_the_network(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in (offline.ENV, "CI")}
    env["PATH"] = str(tmp_path)  # no `unshare` here
    show = "import os; print(os.environ['COURSE_NETWORK'])"
    run = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "support" / "offline.py"), sys.executable, "-c", show],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "not cut: `unshare` (util-linux) is not installed"
    assert "THE NETWORK IS NOT CUT: the offline test will be SKIPPED" in run.stderr


def test_make_test_runs_every_pytest_offline_and_reruns_the_notebooks():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    pytest_lines = [line for line in recipe.splitlines() if "pytest" in line]
    assert pytest_lines, "make test runs no pytest"
    for line in pytest_lines:
        assert "$(OFFLINE)" in line, f"make test must run pytest through tests/support/offline.py: {line.strip()}"
        assert "-p tests.support.user_runs" in line, f"load the plugin (network status, loud skips): {line.strip()}"
    assert any("$(NBVAL)" in line and "chapters" in line and "solutions" in line for line in pytest_lines)
    assert "OFFLINE ?= $(PY) tests/support/offline.py" in makefile


# ------------------------------------------------------------------------------------------------------------
# The re-run takes another numeric path: raw numbers change, rounded ones do not
# ------------------------------------------------------------------------------------------------------------

# Raw numbers of the kinds the notebooks print, computed the way they compute them (float32 NumPy training,
# TensorFlow reductions and a softmax); each printed in full, as a notebook must never print them.
RAW_NUMBERS = """
import os, hashlib
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0"); os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
from utils.data import load_digits_splits
from utils.mlp import train_numpy_net
run = train_numpy_net(load_digits_splits(), "elu", depth=10, width=64, epochs=3, seed=0)
print("numpy_mlp_loss", repr(float(run.loss[-1])))
print("numpy_mlp_accuracy", round(float(run.val_accuracy[-1]), 2))
import tensorflow as tf
x = tf.constant(np.random.default_rng(0).standard_normal((2000, 3000)).astype(np.float32))
print("tf_reduce_sum", repr(float(tf.reduce_sum(x))))
print("tf_softmax", hashlib.md5(tf.nn.softmax(x[:1797, :100]).numpy().tobytes()).hexdigest())
"""


def _raw_numbers(env: dict) -> dict[str, str]:
    run = subprocess.run(
        [sys.executable, "-c", RAW_NUMBERS], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return dict(line.split(" ", 1) for line in run.stdout.strip().splitlines())


def test_the_rerun_takes_another_numeric_path():
    """The second path changes raw float results (so it stands in for another machine), not rounded ones."""
    first_env = {k: v for k, v in os.environ.items() if k not in second_numeric_path()}
    first = _raw_numbers({**first_env, "TF_ENABLE_ONEDNN_OPTS": "0"})
    second = _raw_numbers({**os.environ, **second_numeric_path()})
    print("first path: ", first, "\nsecond path:", second)  # shown with -s: the digits that move
    assert first["numpy_mlp_loss"] != second["numpy_mlp_loss"], "OpenBLAS' kernel did not change NumPy's products"
    assert float(first["numpy_mlp_loss"]) == pytest.approx(float(second["numpy_mlp_loss"]), rel=1e-4)
    assert first["numpy_mlp_accuracy"] == second["numpy_mlp_accuracy"]
    changed_tf = [k for k in ("tf_reduce_sum", "tf_softmax") if first[k] != second[k]]
    assert changed_tf, "neither TensorFlow's threads nor oneDNN changed a TensorFlow result"


def test_the_second_path_runs_kernels_this_cpu_has():
    assert second_numeric_path({}, "sse4_2 avx avx2 avx512f")["OPENBLAS_CORETYPE"] == "Haswell"
    assert second_numeric_path({}, "sse4_2 avx avx2")["OPENBLAS_CORETYPE"] == "Sandybridge"  # Haswell is the default
    assert second_numeric_path({"OPENBLAS_CORETYPE": "Haswell"}, "avx avx2")["OPENBLAS_CORETYPE"] == "Sandybridge"
    assert second_numeric_path({}, "sse4_2")["OPENBLAS_CORETYPE"] == "Prescott"
    path = second_numeric_path()
    assert path["TF_NUM_INTRAOP_THREADS"] != str(os.cpu_count()) and path["TF_ENABLE_ONEDNN_OPTS"] == "1"


# ------------------------------------------------------------------------------------------------------------
# The re-run comparison sees what nbval sees, and ignores what nbval ignores
# ------------------------------------------------------------------------------------------------------------


def _notebook(*outputs_per_cell, tags=(), sources=()):
    nb = nbformat.v4.new_notebook()
    for i, outputs in enumerate(outputs_per_cell):
        source = sources[i] if i < len(sources) else f"cell_{i}()"
        cell = nbformat.v4.new_code_cell(source, execution_count=i + 1)
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        if i in tags:
            cell.metadata["tags"] = ["nbval-ignore-output"]
        nb.cells.append(cell)
    return nb


def _stdout(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def _figure(png="iVBORw0KGgo=", text="<Figure size 640x480 with 1 Axes>"):
    return {"output_type": "display_data", "metadata": {}, "data": {"text/plain": text, "image/png": png}}


PATTERNS = sanitize_patterns(SANITIZE_FILE)


def test_identical_runs_have_no_differences():
    saved = _notebook([_stdout("loss 0.123\n")], [_figure()])
    assert output_differences(saved, _notebook([_stdout("loss 0.123\n")], [_figure()]), PATTERNS) == []


def test_a_changed_number_is_reported_with_its_cell():
    saved = _notebook([_stdout("ok\n")], [_stdout("loss 0.123\n")], sources=["setup()", "train()"])
    fresh = _notebook([_stdout("ok\n")], [_stdout("loss 0.124\n")])
    [problem] = output_differences(saved, fresh, PATTERNS)
    assert problem.startswith("Cell 1 (id ")
    assert "train()" in problem
    assert "-[stdout] loss 0.123" in problem and "+[stdout] loss 0.124" in problem


def test_a_missing_output_is_reported():
    assert output_differences(_notebook([_figure()]), _notebook([]), PATTERNS)


@pytest.mark.parametrize(
    ("saved", "fresh", "tags"),
    [
        ([_figure(png="AAAA")], [_figure(png="BBBB")], ()),  # PNGs are not compared
        ([_stdout("took 1.2 s\n")], [_stdout("took 3.4 s\n")], (0,)),  # nbval-ignore-output
        ([_stdout("<Line2D at 0x7f3a2b1c0d90>\n")], [_stdout("<Line2D at 0x7f00deadbeef>\n")], ()),  # sanitized
        ([_stdout("a\nb\n")], [_stdout("a\n"), _stdout("b\n")], ()),  # streams are merged, as nbval does
    ],
    ids=["png", "ignore-output-tag", "memory-address", "split-stream"],
)
def test_what_nbval_ignores_is_ignored(saved, fresh, tags):
    assert output_differences(_notebook(saved, tags=tags), _notebook(fresh, tags=tags), PATTERNS) == []


def test_comment_markers_and_unrun_cells_are_not_compared():
    saved = _notebook([_stdout("1\n")], [_stdout("2\n")], sources=["# NBVAL_IGNORE_OUTPUT\nf()", "g()"])
    saved.cells[1].execution_count = None
    fresh = _notebook([_stdout("9\n")], [_stdout("8\n")])
    assert output_differences(saved, fresh, PATTERNS) == []


def test_untracked_files_leave_out_ignored_folders():
    found = untracked_files()
    if found is None:
        pytest.skip("not a git checkout: the re-run test cannot look for stray files here")
    assert not [name for name in found if name.startswith(("outputs/", ".venv/"))]
