"""Each question's validator: good answers render, bad ones fail with a message that helps."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from .matrix import FREE_TEXT, choices, combinations, questions
from .options_table import documented, table

BAD_ANSWERS = [
    ({"project_name": "9 lives"}, "project_name must start with a letter"),
    ({"project_name": "a/b"}, "project_name must start with a letter"),
    ({"package": "Bad-Name"}, "package must be a lowercase Python identifier"),
    ({"package": "json"}, "would shadow a module"),
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
    assert combinations()


def test_the_options_table_matches_copier_yml() -> None:
    assert documented() == table(), "regenerate it: uv run python -m tests.options_table"
