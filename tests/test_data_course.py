"""Data splits and the course setup helpers."""

import numpy as np
import pytest

from utils import course, data


def test_digits_splits_are_standardized_disjoint_and_reproducible():
    a, b = data.load_digits_splits(seed=3), data.load_digits_splits(seed=3)
    assert a.sizes() == (1257, 270, 270) and sum(a.sizes()) == 1797
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert a.X_train.dtype == np.float32 and a.n_features == 64 and a.n_classes == 10
    np.testing.assert_allclose(a.X_train.mean(axis=0), 0, atol=1e-5)
    stds = a.X_train.std(axis=0)
    assert np.all((np.abs(stds - 1) < 1e-4) | (stds == 0))  # constant corner pixels stay 0
    rows = {r.tobytes() for r in a.X_train}
    assert not any(r.tobytes() in rows for r in a.X_test[:50])


def test_the_cached_digits_are_the_default_split_and_read_only():
    cached = data.digits()
    assert data.digits() is cached
    fresh = data.load_digits_splits()
    np.testing.assert_array_equal(cached.X_train, fresh.X_train)
    with pytest.raises(ValueError, match="read-only"):
        cached.X_train[0, 0] = 1.0


def test_transfer_tasks_split_the_classes():
    task_a, task_b = data.transfer_tasks()
    assert set(np.unique(task_a.y_train)) == set(range(5)) == set(np.unique(task_b.y_train))
    assert sum(task_a.sizes()) + sum(task_b.sizes()) == 1797


def test_synthetic_data():
    X = data.make_gaussian_inputs(1000, 20, seed=1)
    assert X.shape == (1000, 20) and abs(X.std() - 1) < 0.05
    Xs, ys = data.make_spirals(50, 3)
    assert Xs.shape == (150, 2) and set(ys) == {0, 1, 2}


def test_output_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path))
    assert course.output_dir("models") == tmp_path / "models" and (tmp_path / "models").is_dir()


def test_environment_is_ready_and_versions_are_known():
    assert course.environment_problems() == []
    found = course.versions()
    assert found["tensorflow"].startswith("2.21") and found["keras"].startswith("3.")


@pytest.mark.parametrize(("text", "expected"), [("2.21.0", (2, 21)), ("3.15.1rc1", (3, 15)), ("8", (8,))])
def test_version_tuple(text, expected):
    assert course._version_tuple(text) == expected


def test_course_version_is_pyprojects_and_in_the_changelog():
    import tomllib

    from tools.notebooks import ROOT

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert course.course_version() == declared, "the installed course is out of date: run `make setup`"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {declared}" in changelog, f"CHANGELOG.md has no section for {declared}"


def test_bug_report_names_what_a_maintainer_needs():
    text = course.report()
    for label in ("course", "python", "tensorflow", "keras", "platform", "cpu", "gpu", "environment problems: none"):
        assert any(line.startswith(label) for line in text.splitlines()), f"no {label!r} line in:\n{text}"
    assert course.course_version() in text.splitlines()[0]


def test_a_platform_without_a_tensorflow_wheel_is_named_with_what_to_do(monkeypatch):
    assert course.no_tensorflow_wheel("Darwin", "x86_64") == "an Intel Mac"
    assert course.no_tensorflow_wheel("Linux", "aarch64") == "Linux aarch64"
    assert (
        course.no_tensorflow_wheel("Darwin", "arm64") is None and course.no_tensorflow_wheel("Linux", "x86_64") is None
    )
    found = {**course.versions(), "tensorflow": "not installed"}
    monkeypatch.setattr(course, "versions", lambda: found)
    monkeypatch.setattr(course, "no_tensorflow_wheel", lambda: "an Intel Mac")
    (problem,) = [p for p in course.environment_problems() if "TensorFlow" in p]
    assert "no wheel for an Intel Mac" in problem and "Binder" in problem
