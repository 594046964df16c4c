"""Each question's validator: good answers render, bad ones fail with a message that helps."""

import ast
import html
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from .matrix import (
    ENTITY_VARIANTS,
    FREE_TEXT,
    WITH_ONE_PER_AUTH_AND_ROOMS,
    WITH_SERVERS,
    choices,
    combinations,
    questions,
)
from .options_table import documented, table
from .test_render import BIN, run

BAD_ANSWERS = [
    ({"project_name": "9 lives"}, "project_name must start with a letter"),
    ({"project_name": "a/b"}, "project_name must start with a letter"),
    ({"package": "Bad-Name"}, "package must be a lowercase Python identifier"),
    ({"package": "json"}, "would shadow a module"),
    ({"package": "a_package_name_of_33_characters_x"}, "at most 32 characters"),
    ({"description": "two\nlines"}, "description must be one line"),
    ({"entity": "user"}, "entity must be PascalCase"),
    ({"entity": "Chat Message"}, "entity must be PascalCase"),
    ({"entity": "HTTPThing"}, "entity must be PascalCase"),
    ({"entity": "Hub"}, "clashes with a class of the service"),
    ({"entity_plural": "Users"}, "entity_plural must be snake_case"),
    ({"entity_plural": "user"}, "entity_plural must differ from the singular"),
    ({"fields": "{}"}, "fields must be a non-empty YAML mapping"),
    ({"fields": "[name, email]"}, "fields must be a non-empty YAML mapping"),
    ({"fields": "{a: b: c}"}, "fields must be a non-empty YAML mapping"),
    ({"fields": "{name: str, name: int}"}, "duplicated name"),
    ({"fields": "{Name: str}"}, "must be a snake_case identifier"),
    ({"fields": "{id: str}"}, "is reserved by the service"),
    ({"fields": "{model_name: str}"}, "is reserved by the service"),
    ({"fields": "{class: str}"}, "is a Python keyword"),
    ({"fields": "{tags: list}"}, "use one of str, int, float, bool, datetime"),
    ({"fields": "{due: date?}"}, "use one of str, int, float, bool, datetime"),
    ({"fields": "{a_very_long_field_name_for_x: str}"}, "at most 24 characters"),
    ({"entity": "AnExtremelyLongEntityNameFor"}, "at most 24 characters"),
    ({"auth": "oauth"}, "Invalid choice"),
]


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS, ids=lambda v: str(v)[:40])
def test_bad_answer_is_refused_with_its_message(
    render_into: Any, answers: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        render_into(answers)


@pytest.mark.parametrize(
    ("entity", "plural"),
    [
        ("User", "users"),
        ("Category", "categories"),
        ("Box", "boxes"),
        ("Day", "days"),
        ("ChatMessage", "chat_messages"),
        ("Address", "addresses"),
    ],
)
def test_plural_is_derived_from_the_entity(render_into: Any, entity: str, plural: str) -> None:
    project: Path = render_into({"entity": entity})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["entity_plural"] == plural


def test_fields_accept_block_style_yaml(render_into: Any) -> None:
    project: Path = render_into({"fields": "title: str\ndue: datetime?"})
    model = next(project.glob("src/*/domain/model.py")).read_text()
    assert "title: str\n" in model
    assert "due: datetime | None = None" in model


def test_every_question_has_type_help_default_and_validation() -> None:
    for name, spec in questions().items():
        assert {"type", "help", "default"} <= spec.keys(), name
        assert choices(spec) is not None or "validator" in spec, name


def test_matrix_covers_every_question() -> None:
    for name, spec in questions().items():
        assert choices(spec) is not None or name in FREE_TEXT, (
            f"question {name!r} is free text: cover it in tests/matrix.py ENTITY_VARIANTS"
        )
    for name in FREE_TEXT:
        default = questions()[name]["default"]
        variants = ENTITY_VARIANTS.values()
        assert any(variant.get(name, default) != default for variant in variants), (
            f"no variant in tests/matrix.py ENTITY_VARIANTS moves {name!r} off its default"
        )
    assert combinations()


def test_the_costliest_files_run_once_per_auth_and_rooms_pair() -> None:
    chosen = [combinations()[label] for label in WITH_ONE_PER_AUTH_AND_ROOMS]
    pairs = sorted((answers["auth"], answers["rooms"]) for answers in chosen)
    every_pair = sorted(
        (auth, rooms)
        for auth in choices(questions()["auth"]) or []
        for rooms in choices(questions()["rooms"]) or []
    )
    assert pairs == every_pair
    variants = {label.split("-", 1)[0] for label in WITH_ONE_PER_AUTH_AND_ROOMS}
    assert variants == set(ENTITY_VARIANTS)


def test_the_server_tests_run_once_per_auth_answer_and_both_room_answers() -> None:
    chosen = [combinations()[label] for label in sorted(WITH_SERVERS)]
    assert sorted(answers["auth"] for answers in chosen) == sorted(
        choices(questions()["auth"]) or []
    )
    assert {answers["rooms"] for answers in chosen} == {True, False}


def test_the_options_table_matches_copier_yml() -> None:
    assert documented() == table(), "regenerate it: uv run python -m tests.options_table"


# The extremes each validator lets through. Every file they render must still parse, and each
# answer must read back exactly from every format it is embedded in.
HARD_TEXT = 'A "quoted" \'word\', a """triple""", <b>markup</b> & more, ünïcödé and 🚀, '
LONGEST_DESCRIPTION = HARD_TEXT.ljust(199, "x") + "\\"  # 200 characters, the last a backslash
EDGE_ANSWERS = {
    "shortest": {
        "project_name": "Q",
        "description": "x",
        "entity": "Ox",
        "entity_plural": "oxen",
        "fields": "{a: str}",
        "auth": "none",
    },
    "longest": {
        "project_name": ("Überall Echtzeit-Dienst für Ärztinnen und Ärzte 2" + "_" * 64)[:64],
        "description": LONGEST_DESCRIPTION,
        "entity": "VeryLongEntityNameHere24",
        "entity_plural": "many_very_long_entity_names_here",
        "fields": "{a_field_name_of_24_chars: str, a_number_of_exactly_24ch: float?}",
        "auth": "none",
    },
    "block_style": {"fields": "title: str\ndue: datetime?\n", "rooms": False, "auth": "token"},
}


@pytest.mark.parametrize("label", EDGE_ANSWERS)
def test_edge_answers_render_files_that_parse_and_read_back(render_into: Any, label: str) -> None:
    given = EDGE_ANSWERS[label]
    project: Path = render_into(given)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    package = answers["package"]
    assert len(package) <= 32, "the package derived from a long name is cut to the longest allowed"

    for path in project.rglob("*"):
        if path.suffix == ".toml":
            tomllib.loads(path.read_text())
        elif path.suffix in {".yml", ".yaml"}:
            list(yaml.safe_load_all(path.read_text()))
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".py":
            ast.parse(path.read_text(), str(path))

    metadata = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert metadata["description"] == answers["description"]
    docstring = ast.get_docstring(
        ast.parse((project / "src" / package / "__init__.py").read_text())
    )
    assert docstring == answers["description"]
    page = (project / "src" / package / "delivery/http/static/index.html").read_text()
    assert re.search(r"<title>(.*)</title>", page)[1] == html.escape(answers["project_name"])
    readme = (project / "README.md").read_text().splitlines()
    assert readme[0] == f"# {answers['project_name']}"
    shown = answers["description"].replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;")
    assert readme[2] == shown

    run(project, str(BIN / "ruff"), "check", ".")
    run(project, str(BIN / "ruff"), "format", "--check", ".")
    if answers["auth"] == "none":  # no secret needed to print the AsyncAPI document
        document = json.loads(run(project, sys.executable, "-m", f"{package}.asyncapi"))
        assert document["info"]["title"] == answers["project_name"]
        assert document["info"]["description"] == answers["description"]
