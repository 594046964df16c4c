"""Every answer combination renders a project whose own checks all pass."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import REPORTS, render
from .matrix import (
    ONE_PER_AUTH_AND_ROOMS,
    ROOT,
    WITH_ONE_PER_AUTH_AND_ROOMS,
    WITH_SERVERS,
    combinations,
)

BIN = Path(sys.executable).parent
LEFTOVER = re.compile(r"{{ *[A-Za-z_]|{%|%}")
RUNS = REPORTS / "runs"  # per combination: the JUnit report of its own tests, and a done marker


def run(project: Path, *command: str, timeout: float = 600) -> str:
    """Run a command in a rendered project with the shared environment; its standard output."""
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    result = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=timeout
    )
    output = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"`{' '.join(command)}` failed in {project}:\n{output}"
    return result.stdout


@pytest.mark.parametrize("label", combinations())
def test_rendered_project_passes_its_own_checks(tmp_path: Path, label: str) -> None:
    try:
        check_rendered_project(tmp_path / "project", label)
    finally:
        # Tells test_accounting.py that this combination is over, whatever the outcome.
        RUNS.mkdir(parents=True, exist_ok=True)
        (RUNS / f"{label}.done").touch()


def check_rendered_project(destination: Path, label: str) -> None:
    project = render(destination, combinations()[label])

    assert (project / ".copier-answers.yml").is_file()
    assert not list(project.rglob("*.jinja")), "template files left unrendered"
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            text = path.read_text(errors="replace")
            for number, line in enumerate(text.splitlines(), 1):
                # GitHub workflow expressions are the one legitimate `${{`.
                if LEFTOVER.search(line) and "${{" not in line:
                    pytest.fail(f"template syntax left in {path}:{number}: {line}")
                if line != line.rstrip():
                    pytest.fail(f"trailing white space in {path}:{number}: {line!r}")

    run(project, str(BIN / "ruff"), "check", ".")
    run(project, str(BIN / "ruff"), "format", "--check", ".")
    run(project, str(BIN / "mypy"))
    run(project, str(BIN / "lint-imports"))
    RUNS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(project / ".copier-answers.yml", RUNS / f"{label}.answers.yml")
    report = f"--junitxml={RUNS / f'{label}.xml'}"
    tests = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", report)
    if label not in WITH_SERVERS:
        tests += ("-m", "not servers")
    if label not in WITH_ONE_PER_AUTH_AND_ROOMS:
        tests += tuple(f"--ignore={path}" for path in ONE_PER_AUTH_AND_ROOMS)
    try:
        run(project, sys.executable, *tests)
    finally:
        # The page's screenshots, kept with the reports: what the page looked like in this render.
        screenshots = project / "build" / "screenshots"
        if screenshots.is_dir():
            shutil.copytree(screenshots, REPORTS / "screenshots" / label, dirs_exist_ok=True)


def test_the_template_guide_is_the_default_render(tmp_path: Path) -> None:
    """docs/websocket.md shows the rendered guide for the default answers; keep it in sync."""
    project = render(tmp_path / "project", {})
    rendered = (project / "docs" / "websocket.md").read_text()
    kept = (ROOT / "docs" / "websocket.md").read_text()
    assert kept == rendered, "run the template with defaults and copy docs/websocket.md back"


def test_the_lock_file_matches_the_dependencies(tmp_path: Path) -> None:
    project = render(tmp_path / "project", {})
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    run(project, uv, "lock", "--check")


def locked_versions(lock: Path) -> dict[str, str]:
    packages = tomllib.loads(lock.read_text())["package"]
    return {package["name"]: package["version"] for package in packages if "version" in package}


def test_renders_are_checked_with_the_versions_they_lock(tmp_path: Path) -> None:
    """Renders are checked in this repository's environment: it must hold what they lock."""
    project = render(tmp_path / "project", {})
    ours = locked_versions(ROOT / "uv.lock")
    theirs = locked_versions(project / "uv.lock")
    theirs.pop(tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"])
    differ = {
        name: (version, ours.get(name))
        for name, version in theirs.items()
        if ours.get(name) != version
    }
    assert not differ, (
        f"(rendered uv.lock, template uv.lock) differ: {differ}; run `uv lock` in both"
    )
