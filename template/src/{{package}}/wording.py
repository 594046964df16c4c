"""Validation problems in the service's own words, for settings errors and for the wire.

Pydantic says "Input should be a valid dictionary or instance of UserCreate" or "Extra inputs
are not permitted": its vocabulary and the service's class names. These say what a value must
be; pydantic's own message is kept only for a problem not foreseen here.
"""

from typing import Any

from pydantic_core import ErrorDetails


def plainly(problem: ErrorDetails) -> str:
    context: dict[str, Any] = problem.get("ctx", {})
    match problem["type"], context:
        case "missing", _:
            return "is required"
        case "extra_forbidden", _:
            return "is not a known field"
        case "model_type" | "model_attributes_type" | "dict_type", _:
            return "must be an object"
        case "string_type", _:
            return "must be a string"
        case "int_parsing" | "int_type" | "int_from_float", _:
            return "must be a whole number"
        case "float_parsing" | "float_type" | "finite_number", _:
            return "must be a number"
        case "bool_parsing" | "bool_type", _:
            return "must be true or false"
        case "datetime_parsing" | "datetime_type" | "datetime_from_date_parsing", _:
            return "must be a date and time, such as 2026-01-31T09:30:00Z"
        case "greater_than_equal", {"ge": bound}:
            return f"must be {_number(bound)} or more"
        case "greater_than", {"gt": bound}:
            return f"must be more than {_number(bound)}"
        case "less_than_equal", {"le": bound}:
            return f"must be {_number(bound)} or less"
        case "less_than", {"lt": bound}:
            return f"must be less than {_number(bound)}"
        case "literal_error", {"expected": expected}:
            return f"must be {expected}"
        case "too_short" | "string_too_short", {"min_length": length}:
            return f"must be at least {length} characters long"
        case "too_long" | "string_too_long", {"max_length": length}:
            return f"must be at most {length} characters long"
        case "value_error", {"error": error}:
            return str(error)  # the service's own validators raise with its own words
    return problem["msg"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
