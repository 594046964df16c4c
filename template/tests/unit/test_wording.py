"""Validation problems in plain words: what a value must be, never pydantic's own phrasing."""

from datetime import datetime
from importlib import import_module
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tests.samples import PACKAGE, EntityCreate, valid_data

plainly = import_module(f"{PACKAGE}.wording").plainly


class Booking(BaseModel):
    """A model with one field of each kind a setting or a message may hold."""

    model_config = ConfigDict(extra="forbid")

    guest: str = Field(min_length=2, max_length=40)
    nights: int = Field(ge=1, le=30)
    price: float = Field(gt=0, lt=10_000)
    breakfast: bool
    arrival: datetime
    room: Literal["single", "double"]

    @field_validator("guest")
    @classmethod
    def _no_digits(cls, guest: str) -> str:
        if any(letter.isdigit() for letter in guest):
            raise ValueError("must be a name, without digits")
        return guest


GOOD: dict[str, Any] = {
    "guest": "Ada Lovelace",
    "nights": 3,
    "price": 120.5,
    "breakfast": True,
    "arrival": "2026-03-14T15:00:00Z",
    "room": "double",
}


def problems(model: type[BaseModel], data: object) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(data)
    return [
        (".".join(str(part) for part in problem["loc"]), plainly(problem))
        for problem in raised.value.errors(include_url=False)
    ]


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"nights": "two"}, ("nights", "must be a whole number")),
        ({"nights": 2.5}, ("nights", "must be a whole number")),
        ({"nights": 0}, ("nights", "must be 1 or more")),
        ({"nights": 31}, ("nights", "must be 30 or less")),
        ({"price": "cheap"}, ("price", "must be a number")),
        ({"price": 0}, ("price", "must be more than 0")),
        ({"price": 10_000}, ("price", "must be less than 10000")),
        ({"breakfast": "perhaps"}, ("breakfast", "must be true or false")),
        (
            {"arrival": "next tuesday"},
            ("arrival", "must be a date and time, such as 2026-01-31T09:30:00Z"),
        ),
        ({"room": "suite"}, ("room", "must be 'single' or 'double'")),
        ({"guest": "A"}, ("guest", "must be at least 2 characters long")),
        ({"guest": "A" * 41}, ("guest", "must be at most 40 characters long")),
        ({"guest": 7}, ("guest", "must be a string")),
        ({"guest": "R2D2"}, ("guest", "must be a name, without digits")),
        ({"pets": 2}, ("pets", "is not a known field")),
    ],
)
def test_a_problem_says_what_the_value_must_be(
    changes: dict[str, Any], said: tuple[str, str]
) -> None:
    assert problems(Booking, GOOD | changes) == [said]


def test_a_missing_field_is_required() -> None:
    data = {name: value for name, value in GOOD.items() if name != "room"}

    assert problems(Booking, data) == [("room", "is required")]


def test_data_that_is_not_an_object_must_be_one() -> None:
    assert problems(EntityCreate, "not an object") == [("", "must be an object")]


def test_the_entity_refuses_an_unknown_field_in_plain_words() -> None:
    said = problems(EntityCreate, valid_data() | {"nickname": "Ada"})

    assert said == [("nickname", "is not a known field")]
