"""pyproject.toml and environment.yml name the same packages with the same version ranges."""

from __future__ import annotations

import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from conftest import REPO


def _ranges(requirements: list[str]) -> dict[str, SpecifierSet]:
    parsed = [Requirement(text) for text in requirements]
    return {canonicalize_name(r.name): r.specifier for r in parsed}


def pyproject_ranges() -> dict[str, SpecifierSet]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    ranges = _ranges(project["dependencies"] + extras)
    ranges["python"] = SpecifierSet(project["requires-python"])
    return ranges


def conda_ranges() -> dict[str, SpecifierSet]:
    environment = yaml.safe_load((REPO / "environment.yml").read_text())
    # "pip" itself and the nested {"pip": ["-e ."]} install metakit; they are not dependencies.
    names = [d for d in environment["dependencies"] if isinstance(d, str) and d != "pip"]
    return _ranges(names)


def test_environment_yml_matches_pyproject():
    assert conda_ranges() == pyproject_ranges()


def test_every_dependency_has_a_bounded_range():
    for name, specifier in pyproject_ranges().items():
        if name != "python":
            operators = {spec.operator for spec in specifier}
            assert ">=" in operators and "<" in operators, name


def test_environment_installs_metakit_itself():
    environment = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    assert pip == [["-e ."]]
