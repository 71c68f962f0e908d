"""Every learner's platform gets a TensorFlow that exists: the requirement markers of pyproject.toml and environment.yml

Both files choose between two distributions that import as ``tensorflow``: ``tensorflow-cpu`` (CPU only, about 4x
smaller) where it is published, ``tensorflow`` elsewhere. The markers are evaluated here (packaging.markers) for
each platform a learner may have, against the table of published TensorFlow 2.21 wheels below; where no wheel
exists, the README and chapter 00 must say what to do instead.
"""

from __future__ import annotations

import tomllib

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement

from tests.support.notebooks import CHAPTERS, ROOT, markdown, read

TENSORFLOW = {"tensorflow", "tensorflow-cpu"}
VERSION = "2.21.0"
# Distributions with a published TensorFlow 2.21 wheel (Python 3.11-3.13), per platform. Source: checked with
# `pip download --platform <tag> --only-binary=:all: "<dist>>=2.21,<2.22"` (shared FIELD_NOTES, "Wheels for
# TensorFlow 2.21"), and issue 20: no tensorflow-cpu wheel on macOS arm64; none at all on Intel Macs, Linux aarch64.
WHEELS = {
    "Linux x86-64": {"tensorflow", "tensorflow-cpu"},
    "Windows x86-64": {"tensorflow", "tensorflow-cpu"},
    "macOS arm64": {"tensorflow"},
    "macOS x86-64": set(),
    "Linux aarch64": set(),
}
# What pip reports there (platform.machine() and friends).
MARKERS = {
    "Linux x86-64": {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
    },
    "Windows x86-64": {
        "sys_platform": "win32",
        "platform_system": "Windows",
        "platform_machine": "AMD64",
        "os_name": "nt",
    },
    "macOS arm64": {
        "sys_platform": "darwin",
        "platform_system": "Darwin",
        "platform_machine": "arm64",
        "os_name": "posix",
    },
    "macOS x86-64": {
        "sys_platform": "darwin",
        "platform_system": "Darwin",
        "platform_machine": "x86_64",
        "os_name": "posix",
    },
    "Linux aarch64": {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "aarch64",
        "os_name": "posix",
    },
}
SUPPORTED = [name for name, wheels in WHEELS.items() if wheels]
UNSUPPORTED = [name for name, wheels in WHEELS.items() if not wheels]
# How the README and chapter 00 name the platforms without a wheel (any one of the words, case-insensitive).
NAMED_AS = {"macOS x86-64": ("intel mac",), "Linux aarch64": ("aarch64", "arm64 linux")}


def pyproject_requirements() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]


def environment_requirements() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    return [line for line in pip if not line.startswith("-")]  # "-e ." is the course itself


SOURCES = {"pyproject.toml": pyproject_requirements, "environment.yml": environment_requirements}


def tensorflow_for(requirements: list[str], platform: str, python: str = "3.12") -> list[Requirement]:
    """Return the TensorFlow requirements whose markers hold on ``platform`` (one of MARKERS) under ``python``."""
    env = default_environment() | MARKERS[platform] | {"python_version": python, "python_full_version": python + ".0"}
    found = [Requirement(line) for line in requirements]
    return [req for req in found if req.name in TENSORFLOW and (req.marker is None or req.marker.evaluate(env))]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("platform", SUPPORTED)
@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_exactly_one_tensorflow_with_a_wheel_on_each_platform(source, platform, python):
    chosen = tensorflow_for(SOURCES[source](), platform, python)
    assert len(chosen) == 1, f"{source} asks for {[str(r) for r in chosen]} on {platform}: exactly one TensorFlow"
    (req,) = chosen
    assert req.name in WHEELS[platform], (
        f"{source}: {req.name} has no 2.21 wheel for {platform} (have: {WHEELS[platform]})"
    )
    assert req.specifier.contains(VERSION), f"{source}: {req} does not admit TensorFlow {VERSION}"


def test_environment_yml_no_longer_asks_for_tensorflow_cpu_on_a_mac():
    for platform in ("macOS arm64", "macOS x86-64"):
        assert "tensorflow-cpu" not in {r.name for r in tensorflow_for(environment_requirements(), platform)}


def test_both_files_choose_the_same_tensorflow_everywhere():
    for platform in MARKERS:
        chosen = {source: [str(r) for r in tensorflow_for(read_(), platform)] for source, read_ in SOURCES.items()}
        assert len({tuple(v) for v in chosen.values()}) == 1, f"{platform}: {chosen}"


@pytest.mark.parametrize("platform", UNSUPPORTED)
def test_readme_and_chapter_00_say_what_to_do_where_no_wheel_exists(platform):
    readme = (ROOT / "README.md").read_text(encoding="utf-8").lower()
    chapter_00 = markdown(read(CHAPTERS[0])).lower()
    for where, text in (("README.md", readme), (CHAPTERS[0].name, chapter_00)):
        assert any(word in text for word in NAMED_AS[platform]), f"{where} does not say what to do on {platform}"
