"""Errors the domain and the use cases raise; the delivery layer maps them to wire codes."""

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every error the service reports to a caller on purpose."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One field that broke an invariant, and why."""

    field: str
    message: str


class InvalidEntityError(DomainError):
    """The entity would break one of its invariants."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


class NotFoundError(DomainError):
    """No entity has that id."""

    def __init__(self, entity: str, entity_id: str) -> None:
        super().__init__(f"{entity} {entity_id!r} does not exist")
        self.entity_id = entity_id


class ConflictError(DomainError):
    """The change was based on a version of the entity that is no longer current."""
