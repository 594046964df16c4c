"""The answer combinations the template is proven with, derived from copier.yml itself."""

import itertools
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent

# Free-text questions cannot be enumerated: each is moved away from its default by at least one
# of these variants (test_matrix_covers_every_question checks it), with the hardest valid values:
# quotes, a backslash, markup and letters beyond ASCII, a package and a plural not derived.
# "user" keeps every default, so the default render is proven too.
ENTITY_VARIANTS: dict[str, dict[str, Any]] = {
    "user": {},
    "chat_message": {
        "project_name": "Café Chat-Room 2",
        "package": "chatroom",
        "description": 'Chat "live" \u2013 with a back\\slash, <b>markup</b> & ünïcödé 🚀',
        "entity": "ChatMessage",
        "fields": "{body: str, author_email: str}",
    },
    "every_type": {
        "project_name": "Planner",
        "description": "People's plans: every field type, 'single' quotes and a trailing \\",
        "entity": "Person",
        "entity_plural": "people",
        "fields": (
            "{title: str, count: int, score: float, active: bool, due: datetime,"
            " note: str?, rank: int?, ratio: float?, done: bool?, at: datetime?}"
        ),
    },
}
FREE_TEXT = {"project_name", "package", "description", "entity", "entity_plural", "fields"}


def questions() -> dict[str, dict[str, Any]]:
    """The questions a user is asked (computed values and settings left out)."""
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    return {
        name: spec
        for name, spec in config.items()
        if not name.startswith("_") and spec.get("when") is not False
    }


def choices(spec: dict[str, Any]) -> list[Any] | None:
    if spec.get("type") == "bool":
        return [True, False]
    options = spec.get("choices")
    if isinstance(options, dict):
        return list(options.values())
    if isinstance(options, list):
        return options
    return None


def combinations() -> dict[str, dict[str, Any]]:
    """Every choice of every closed question, crossed with every entity variant."""
    closed = {name: choices(spec) for name, spec in questions().items()}
    enumerable = {name: values for name, values in closed.items() if values is not None}
    names = sorted(enumerable)
    result: dict[str, dict[str, Any]] = {}
    for values in itertools.product(*(enumerable[name] for name in names)):
        answers = dict(zip(names, values, strict=True))
        for variant, data in ENTITY_VARIANTS.items():
            label = "-".join([variant, *(f"{name}={answers[name]}" for name in names)])
            result[label] = {**answers, **data}
    return result


# The tests that start real Redis and PostgreSQL servers (marker `servers`) run in one render
# per auth answer, both room answers and every entity variant among them, not in all of them.
WITH_SERVERS = frozenset(
    {
        "user-auth=none-rooms=True",
        "chat_message-auth=token-rooms=True",
        "every_type-auth=jwt-rooms=False",
    }
)

# Test files whose outcome depends on the auth and rooms answers but not on the entity, and that
# cost the most time: they run in one render per auth and rooms pair (the entity variant
# rotating between pairs), not in all of them.
ONE_PER_AUTH_AND_ROOMS = ("tests/e2e/test_bench.py", "tests/e2e/test_lifecycle.py")
WITH_ONE_PER_AUTH_AND_ROOMS = frozenset(
    {
        "user-auth=jwt-rooms=True",
        "user-auth=none-rooms=False",
        "chat_message-auth=token-rooms=True",
        "chat_message-auth=jwt-rooms=False",
        "every_type-auth=none-rooms=True",
        "every_type-auth=token-rooms=False",
    }
)
