import os
from pathlib import Path
from typing import Any

import copier
import pytest

from .matrix import ROOT

# Copier commits dirty template changes in its temporary clone: give git an identity.
for variable, value in {
    "GIT_AUTHOR_NAME": "template tests",
    "GIT_AUTHOR_EMAIL": "tests@clean-realtime.invalid",
    "GIT_COMMITTER_NAME": "template tests",
    "GIT_COMMITTER_EMAIL": "tests@clean-realtime.invalid",
}.items():
    os.environ.setdefault(variable, value)


def render(
    destination: Path, data: dict[str, Any], *, src: Path = ROOT, vcs_ref: str = "HEAD"
) -> Path:
    """Render with plain `copier copy` (no --trust): this working tree, or `src` at `vcs_ref`."""
    copier.run_copy(
        str(src),
        destination,
        data=data,
        defaults=True,
        unsafe=False,
        vcs_ref=vcs_ref,
        quiet=True,
    )
    return destination


@pytest.fixture
def render_into(tmp_path: Path) -> Any:
    def _render(data: dict[str, Any]) -> Path:
        return render(tmp_path / "project", data)

    return _render
