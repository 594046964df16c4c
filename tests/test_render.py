"""Every answer combination renders a project whose own checks all pass."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import render
from .matrix import ROOT, combinations

BIN = Path(sys.executable).parent
LEFTOVER = re.compile(r"{{ *[A-Za-z_]|{%|%}")


def run(project: Path, *command: str, timeout: float = 600) -> None:
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    result = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=timeout
    )
    output = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"`{' '.join(command)}` failed in {project}:\n{output}"


@pytest.mark.parametrize("answers", combinations().values(), ids=combinations().keys())
def test_rendered_project_passes_its_own_checks(tmp_path: Path, answers: dict[str, Any]) -> None:
    project = render(tmp_path / "project", answers)

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
    run(project, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0")


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
