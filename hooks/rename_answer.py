"""Rename an answer in a project's Copier answers file, for a migration after a renamed question.

    python rename_answer.py OLD NEW [--answers-file .copier-answers.yml]

A template version that renames a question runs this as a `before` migration, so that the update
reads the old answer under its new name instead of silently falling back to the default:

    _migrations:
      - version: "2.0.0"
        when: "{{ _stage == 'before' }}"
        command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/rename_answer.py",
                  description, summary, --answers-file, "{{ _copier_conf.answers_file }}"]

It runs in the project's directory. Running it twice is harmless: once OLD is gone there is
nothing left to rename. The leading comment of the answers file is kept; Copier rewrites the rest
at the end of the update anyway. Needs only PyYAML, which Copier itself depends on.
"""

import argparse
import re
import sys
from pathlib import Path

import yaml

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def rename(text: str, old: str, new: str) -> str | None:
    """The answers file `text` with `old` renamed to `new`, or None if there is nothing to do."""
    answers = yaml.safe_load(text) or {}
    if not isinstance(answers, dict):
        raise ValueError("the answers file does not hold a mapping of answers")
    if old not in answers:
        return None
    if new in answers:
        raise ValueError(
            f"the answers file has both '{old}' and '{new}'; remove the one that is wrong"
            " and run the update again"
        )
    renamed = {(new if key == old else key): value for key, value in answers.items()}
    header: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line + "\n")
    body: str = yaml.safe_dump(renamed, sort_keys=False, allow_unicode=True)
    return "".join(header) + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", help="the question's old name")
    parser.add_argument("new", help="the question's new name")
    parser.add_argument("--answers-file", default=".copier-answers.yml", type=Path)
    args = parser.parse_args(argv)
    for name in (args.old, args.new):
        if not NAME.match(name):
            parser.error(f"'{name}' is not a question name (letters, digits and '_')")
    if args.old == args.new:
        parser.error("the old and new names are the same")

    path: Path = args.answers_file
    if not path.is_file():
        print(f"rename_answer: {path} not found in {Path.cwd()}", file=sys.stderr)
        return 1
    try:
        text = rename(path.read_text(encoding="utf-8"), args.old, args.new)
    except (ValueError, yaml.YAMLError) as error:
        print(f"rename_answer: {path}: {error}", file=sys.stderr)
        return 1
    if text is None:
        print(
            f"rename_answer: no '{args.old}' answer in {path}; nothing to rename", file=sys.stderr
        )
        return 0
    path.write_text(text, encoding="utf-8")
    print(
        f"rename_answer: renamed the answer '{args.old}' to '{args.new}' in {path}", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
