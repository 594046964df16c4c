"""Every answer combination renders a project whose own checks all pass."""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import render
from .matrix import combinations

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

    run(project, str(BIN / "ruff"), "check", ".")
    run(project, str(BIN / "ruff"), "format", "--check", ".")
    run(project, str(BIN / "mypy"))
    run(project, str(BIN / "lint-imports"))
    run(project, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0")
