"""The GitHub Actions workflows cannot run here: actionlint checks them instead."""

import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import render
from .matrix import ROOT

ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or "actionlint"


def actionlint(*workflows: Path) -> None:
    result = subprocess.run(
        [ACTIONLINT, "-no-color", *map(str, workflows)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_template_workflow_is_valid() -> None:
    actionlint(ROOT / ".github" / "workflows" / "ci.yml")


def test_the_rendered_project_workflow_is_valid(tmp_path: Path) -> None:
    project = render(tmp_path / "project", {})
    actionlint(*sorted((project / ".github" / "workflows").glob("*.yml")))
