"""The course's model zoo (utils/zoo/, made by tools/make_zoo.py): checksums, safe loading, package data, and a
rebuild that gives an equivalent model.

Equivalent, not identical: float32 training differs in its last bits across CPUs and thread counts, so a rebuild
elsewhere gives other bytes. It must give the same architecture and a test accuracy within ``ACCURACY_TOLERANCE``
of the manifest's (on the machine that made the zoo, the rebuild is byte for byte the same).
"""

from __future__ import annotations

import fnmatch
import shutil
import tomllib

import numpy as np
import pytest

from tests.support.notebooks import ROOT
from tools import make_zoo
from utils import zoo

ACCURACY_TOLERANCE = 0.03  # about 4 of task A's 132 test images
ENTRIES = list(zoo.manifest().values())


def test_the_manifest_lists_every_file_and_nothing_else():
    files = {p.name for p in zoo.ZOO_DIR.iterdir() if p.name not in ("manifest.json", "__init__.py", "__pycache__")}
    assert files == {e.file for e in ENTRIES}
    assert sum(e.bytes for e in ENTRIES) <= 2 * 1024**2, "the zoo must stay under 2 MB"


@pytest.mark.parametrize("item", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_checksum_and_size_matches(item):
    assert zoo.sha256(item.path) == item.sha256
    assert item.path.stat().st_size == item.bytes
    assert zoo.verify(item.name) == item


@pytest.mark.parametrize("item", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_model_loads_in_safe_mode_and_scores_its_manifest_accuracy(item, keras):
    model = zoo.load(item.name)
    assert make_zoo.architecture(model) == item.architecture
    assert getattr(model, "optimizer", None) is None  # shipped without optimizer state: smaller, nothing to resume
    assert item.bytes < 1024**2  # each model under 1 MiB
    assert abs(make_zoo.test_accuracy(item.name, model) - item.test_accuracy) < 0.01  # task A, or held-out fonts


def test_the_zoo_holds_chapter_06s_printed_sources():
    assert set(make_zoo.GLYPH_RECIPES) <= {e.name for e in ENTRIES}
    assert zoo.entry("glyph_digits_mlp").test_accuracy > 0.8  # printed digits in fonts it never saw
    assert zoo.entry("glyph_digits_permuted_mlp").test_accuracy > 0.8  # the negative control learns its task too
    from utils.transfer import SOURCE_ELASTIC

    assert make_zoo.GLYPH_RECIPES["glyph_digits_mlp"]["elastic"] == SOURCE_ELASTIC  # the chapter's source recipe


def test_a_changed_file_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "zoo"
    shutil.copytree(zoo.ZOO_DIR, copy)
    item = ENTRIES[0]
    data = bytearray((copy / item.file).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / item.file).write_bytes(bytes(data))
    monkeypatch.setattr(zoo, "ZOO_DIR", copy)
    with pytest.raises(zoo.ZooError, match="does not match the manifest"):
        zoo.load(item.name)
    with pytest.raises(zoo.ZooError, match="not the expected"):
        zoo.load_checked(copy / item.file, item.sha256)
    (copy / item.file).unlink()
    with pytest.raises(zoo.ZooError, match="make zoo"):
        zoo.verify(item.name)


def test_unknown_names_list_the_zoo():
    with pytest.raises(zoo.ZooError, match=ENTRIES[0].name):
        zoo.entry("resnet_9000")


def test_safe_mode_refuses_a_lambda_layer(tmp_path, keras):
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Lambda(lambda x: 2.0 * x)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ValueError, match="Lambda.*safe_mode=False"):
        zoo.load_checked(path, zoo.sha256(path))


def test_the_zoo_ships_as_package_data():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "utils.zoo" in setuptools["packages"], "utils.zoo (code, models, manifest) must be a package"
    patterns = setuptools["package-data"]["utils.zoo"]
    for path in zoo.ZOO_DIR.iterdir():
        if path.suffix in (".keras", ".json"):
            assert any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns), f"{path.name} is not package data"


def test_rebuilding_a_model_gives_an_equivalent_one(tmp_path, keras):
    """`make zoo` for one model, into a temporary folder: same architecture, accuracy within the tolerance."""
    item = zoo.entry("digits_0to4_mlp")
    entries = make_zoo.build([item.name], tmp_path)
    rebuilt = entries[0]
    assert rebuilt["architecture"] == item.architecture
    assert abs(rebuilt["test_accuracy"] - item.test_accuracy) <= ACCURACY_TOLERANCE
    assert rebuilt["recipe"] == item.recipe
    model = zoo.load_checked(tmp_path / rebuilt["file"], rebuilt["sha256"])
    shipped = zoo.load(item.name)
    assert [w.shape for w in model.get_weights()] == [w.shape for w in shipped.get_weights()]
    make_zoo.write_manifest(entries, tmp_path)
    assert zoo.manifest(tmp_path / "manifest.json")[item.name].sha256 == rebuilt["sha256"]


def test_saving_is_reproducible(tmp_path, keras):
    model = zoo.load("digits_0to4_mlp")
    make_zoo.save_reproducibly(model, tmp_path / "one.keras")
    make_zoo.save_reproducibly(model, tmp_path / "two.keras")
    assert (tmp_path / "one.keras").read_bytes() == (tmp_path / "two.keras").read_bytes()
    again = zoo.load_checked(tmp_path / "one.keras", zoo.sha256(tmp_path / "one.keras"))
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), again.get_weights(), strict=True))


def test_rebuilding_a_printed_source_gives_an_equivalent_one(tmp_path, keras):
    """The numpy-trained glyph model, rebuilt: same architecture, held-out-font accuracy within the tolerance."""
    item = zoo.entry("glyph_digits_mlp")
    rebuilt = make_zoo.build([item.name], tmp_path)[0]
    assert rebuilt["architecture"] == item.architecture and rebuilt["recipe"] == item.recipe
    assert abs(rebuilt["test_accuracy"] - item.test_accuracy) <= ACCURACY_TOLERANCE


def test_describe_lists_every_model_or_the_named_ones():
    from utils import zoo

    assert len(zoo.describe()) == len(zoo.manifest())
    lines = zoo.describe(["digits_0to4_mlp"])
    assert len(lines) == 1 and lines[0].startswith("digits_0to4_mlp ")
