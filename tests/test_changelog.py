"""Versions are PEP 440, and the changelog's newest entry is the version the template declares."""

import re
import tomllib

from packaging.version import Version

from .matrix import ROOT


def versions() -> list[Version]:
    headings = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.M)
    return [Version(heading) for heading in headings]  # raises on a non-PEP 440 version


def test_the_changelog_lists_pep_440_versions_newest_first() -> None:
    found = versions()
    assert found
    assert found == sorted(found, reverse=True)


def test_the_newest_entry_is_the_declared_version() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert versions()[0] == Version(declared)
