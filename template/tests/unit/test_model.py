"""The entity's invariants: an entity that exists is a valid one."""

import dataclasses
import math
from datetime import datetime
from typing import Any

import pytest

from tests.samples import (
    DATETIME_FIELDS,
    EMAIL_FIELDS,
    FIELDS,
    FLOAT_FIELDS,
    INT_FIELDS,
    MAX_TEXT,
    OPTIONAL_FIELDS,
    TEXT_FIELDS,
    EntityCreate,
    FieldSpec,
    InvalidEntityError,
    field_id,
    new_entity,
    valid_data,
)

NAIVE = datetime(2026, 1, 1, 12, 0)  # no time zone: an ambiguous moment


def problems(**overrides: Any) -> dict[str, str]:
    """The field problems that building an entity with `overrides` reports."""
    with pytest.raises(InvalidEntityError) as raised:
        new_entity(**overrides)
    return {problem.field: problem.message for problem in raised.value.problems}


def test_the_sample_builds_a_valid_entity() -> None:
    entity = new_entity()

    expected = EntityCreate.model_validate(valid_data()).model_dump()
    assert {field.name: getattr(entity, field.name) for field in FIELDS} == expected
    assert entity.version == 1


def test_entities_are_immutable() -> None:
    entity = new_entity()

    with pytest.raises(dataclasses.FrozenInstanceError):
        entity.version = 2  # type: ignore[misc]


def test_version_starts_at_one() -> None:
    assert problems(version=0) == {"version": "must be 1 or more"}


def test_timestamps_must_carry_a_time_zone() -> None:
    found = problems(created_at=NAIVE, updated_at=NAIVE)

    assert set(found) == {"created_at", "updated_at"}
    assert "time zone" in found["created_at"]


def test_every_broken_invariant_is_reported_at_once() -> None:
    with pytest.raises(InvalidEntityError) as raised:
        new_entity(version=-1, created_at=NAIVE)

    assert [problem.field for problem in raised.value.problems] == ["version", "created_at"]
    assert str(raised.value).startswith("version: must be 1 or more; created_at: ")


@pytest.mark.parametrize("field", TEXT_FIELDS, ids=field_id)
@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_text_must_not_be_blank(field: FieldSpec, blank: str) -> None:
    assert problems(**{field.name: blank}) == {field.name: "must not be blank"}


@pytest.mark.parametrize("field", TEXT_FIELDS, ids=field_id)
def test_text_has_a_maximum_length(field: FieldSpec) -> None:
    new_entity(**{field.name: "x" * MAX_TEXT})

    assert set(problems(**{field.name: "x" * (MAX_TEXT + 1)})) == {field.name}


@pytest.mark.parametrize("field", EMAIL_FIELDS, ids=field_id)
@pytest.mark.parametrize("address", ["ada", "ada@", "@example.com", "ada@example", "a b@c.d"])
def test_email_must_be_an_address(field: FieldSpec, address: str) -> None:
    found = problems(**{field.name: address})

    assert set(found) == {field.name}
    assert "e-mail" in found[field.name]


@pytest.mark.parametrize("field", DATETIME_FIELDS, ids=field_id)
def test_moments_must_carry_a_time_zone(field: FieldSpec) -> None:
    found = problems(**{field.name: NAIVE})

    assert set(found) == {field.name}
    assert "time zone" in found[field.name]


@pytest.mark.parametrize("field", INT_FIELDS, ids=field_id)
def test_integers_fit_in_64_bits(field: FieldSpec) -> None:
    new_entity(**{field.name: 2**63 - 1})
    new_entity(**{field.name: -(2**63)})

    assert problems(**{field.name: 2**63}) == {field.name: "must fit in 64 bits"}


@pytest.mark.parametrize("field", FLOAT_FIELDS, ids=field_id)
@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_numbers_must_be_finite(field: FieldSpec, number: float) -> None:
    assert problems(**{field.name: number}) == {field.name: "must be a finite number"}


@pytest.mark.parametrize("field", OPTIONAL_FIELDS, ids=field_id)
def test_optional_fields_may_be_left_empty(field: FieldSpec) -> None:
    entity = new_entity(**{field.name: None})

    assert getattr(entity, field.name) is None
