"""The table of every question in docs/options.md, generated from copier.yml.

Regenerate the table after changing a question: `uv run python -m tests.options_table`.
"""

import re
from pathlib import Path

from .matrix import ROOT, choices, questions

DOC = ROOT / "docs" / "options.md"
START, END = "<!-- options:start -->", "<!-- options:end -->"


def table() -> str:
    rows = ["| question | type | default | choices | what it does |", "|---|---|---|---|---|"]
    for name, spec in questions().items():
        default = " ".join(str(spec.get("default", "")).split())
        if "{{" in default:
            default = "derived"
        options = choices(spec)
        shown = ", ".join(f"`{option}`" for option in options) if options else "free text"
        help_text = " ".join(str(spec["help"]).split()).replace("|", "\\|")
        rows.append(f"| `{name}` | {spec['type']} | `{default}` | {shown} | {help_text} |")
    return "\n".join(rows)


def documented(path: Path = DOC) -> str:
    match = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), path.read_text(), re.S)
    assert match, f"{path} lacks the {START} … {END} markers"
    return match.group(1)


def write(path: Path = DOC) -> None:
    text = path.read_text()
    path.write_text(text.replace(documented(path), table()))


if __name__ == "__main__":
    write()
