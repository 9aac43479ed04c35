"""The plain-Python argument check may only ever say "valid" where jsonschema agrees."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from hangar.app.invoke import _quick_check, _Validators
from hangar.domain.errors import ValidationError
from hangar.domain.provider_spec import ToolSpec

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "number", "description": "b"},
                   "s": {"type": "string"}, "f": {"type": "boolean"}, "l": {"type": "array"}},
    "required": ["a"],
}
CASES: list[dict[str, Any]] = [
    {"a": 1}, {"a": 1, "b": 2.5}, {"a": 1, "b": 2}, {}, {"a": "1"}, {"a": True}, {"a": 1.0}, {"a": 1, "b": False},
    {"a": 1, "s": 3}, {"a": 1, "f": 0}, {"a": 1, "f": True}, {"a": 1, "l": []}, {"a": 1, "l": {}},
    {"a": 1, "other": object}, {"a": None},
]


@pytest.mark.parametrize("extra", [True, False])
def test_quick_check_never_accepts_what_jsonschema_refuses(extra: bool) -> None:
    schema = {**SCHEMA, "additionalProperties": extra}
    quick = _quick_check(schema)
    assert quick is not None
    full = jsonschema.Draft202012Validator(schema)
    for case in CASES:
        if quick(case):
            assert full.is_valid(case), case
    assert quick({"a": 1, "b": 2}) and not quick({"a": True})


def test_schemas_it_cannot_judge_go_to_jsonschema() -> None:
    assert _quick_check({"type": "object", "properties": {"a": {"type": "integer", "minimum": 3}}}) is None
    assert _quick_check({"type": "object", "anyOf": []}) is None
    assert _quick_check({"type": "array"}) is None
    v = _Validators()
    tool = ToolSpec(name="t", description="", input_schema={"type": "object",
                                                             "properties": {"a": {"type": "integer", "minimum": 3}}})
    v.check(tool, {"a": 5})
    with pytest.raises(ValidationError, match="a: 1 is less than the minimum of 3"):
        v.check(tool, {"a": 1})
    # Refused by the quick check, accepted by jsonschema (1.0 is an integer there): accepted.
    plain = ToolSpec(name="p", description="", input_schema=SCHEMA)
    v.check(plain, {"a": 1.0})
    with pytest.raises(ValidationError, match="'a' is a required property"):
        v.check(plain, {})
