"""The Markdown docs hold no dead ends: every `make` target they name is in the Makefile, and
every relative link they make opens a file of the project."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)  # fenced blocks and inline code
MAKE = re.compile(r"\bmake((?:\s+-\w+)*)\s+([\w.-]+)")  # make [-s] target
TARGET = re.compile(r"^([\w.-]+(?:[ \t]+[\w.-]+)*)[ \t]*:(?!=)", re.MULTILINE)
LINK = re.compile(r"\[[^\]]*\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def makefile_targets() -> set[str]:
    return {
        target
        for line in TARGET.findall((ROOT / "Makefile").read_text())
        for target in line.split()
    }


def make_targets_named(text: str) -> set[str]:
    """The targets of the `make ...` commands in the code of a Markdown text."""
    return {
        target
        for code in CODE.findall(text)
        for _flags, target in MAKE.findall(code)
        if "=" not in target
    }


def relative_links(text: str) -> set[str]:
    """The link targets that are paths in the project (not URLs, not anchors of the page)."""
    return {
        target.split("#", 1)[0]
        for target in LINK.findall(CODE.sub("", text))
        if not SCHEME.match(target) and not target.startswith("#")
    }


def test_targets_come_from_code_and_links_from_paths() -> None:
    text = "Run `make -s token SUBJECT=ada`, then ```sh\nmake check\n``` (make sure of it)."

    assert make_targets_named(text) == {"token", "check"}
    assert relative_links("[guide](docs/a.md#x), [uv](https://x.dev), [top](#t)") == {"docs/a.md"}
    assert relative_links("`[not](a-link.md)`") == set()


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.relative_to(ROOT).as_posix())
def test_every_make_target_a_doc_names_exists(doc: Path) -> None:
    named = make_targets_named(doc.read_text())

    assert named - makefile_targets() == set(), f"{doc.name} names targets the Makefile lacks"


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.relative_to(ROOT).as_posix())
def test_every_relative_link_of_a_doc_opens_a_project_file(doc: Path) -> None:
    for link in relative_links(doc.read_text()):
        target = (doc.parent / link).resolve()
        assert target.is_relative_to(ROOT), f"{doc.name} links outside the project: {link}"
        assert target.is_file(), f"{doc.name} links to {link}, which does not exist"


def test_the_docs_do_name_targets_and_links() -> None:
    """The tests above check something: the README names targets and links the guides."""
    readme = (ROOT / "README.md").read_text()

    assert {"run", "check", "test", "bench"} <= make_targets_named(readme)
    assert {"docs/websocket.md", "docs/performance.md"} <= relative_links(readme)
