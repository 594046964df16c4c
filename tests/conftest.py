import os
import shutil
from pathlib import Path
from typing import Any

import copier
import pytest

from .matrix import ROOT

# What the rendered projects' own test runs leave behind: a JUnit report per combination, and the
# accounting of them all. Kept after the run (CI may publish it); emptied when a run starts.
REPORTS = ROOT / "build" / "reports"
ACCOUNTING = REPORTS / "accounting.txt"

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


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # once, in the process that runs the session
        shutil.rmtree(REPORTS, ignore_errors=True)
        REPORTS.mkdir(parents=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ACCOUNTING.is_file():
        terminalreporter.write_sep("-", "tests of the rendered projects")
        terminalreporter.write_line(ACCOUNTING.read_text().rstrip())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The accounting reads what every combination's tests reported, so it runs after them.
    items.sort(key=lambda item: item.nodeid.startswith("tests/test_accounting.py"))
