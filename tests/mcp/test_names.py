"""Exposed names: valid for every LLM API, deterministic, collision-free, exactly reversible."""

from __future__ import annotations

from hangar.app.mcp_names import STRICT, NameTable, exposed_name, split_unknown


def test_plain_names_are_kept_and_awkward_ones_sanitised_with_a_stable_suffix() -> None:
    assert exposed_name("math", "add") == "math__add"
    assert exposed_name("math", "add", ".") == "math.add"
    odd = ["dotted.name", "with space", "ünïcödé", "x" * 80, "x" * 79 + "y", "dotted_name"]
    names = [exposed_name("p", n) for n in odd]
    assert all(STRICT.match(n) for n in names)
    assert len(set(names)) == len(names)
    assert names == [exposed_name("p", n) for n in odd]  # deterministic
    assert names[-1] == "p__dotted_name" and names[0] != names[-1]


def test_table_maps_back_exactly_and_never_collides() -> None:
    table = NameTable()
    pairs = [("p", "a.b"), ("p", "a b"), ("p", "a_b"), ("q" * 60, "tool"), ("q" * 60, "tool2")]
    exposed = [table.add(t, n) for t, n in pairs]
    assert len(set(exposed)) == len(exposed) and all(STRICT.match(e) for e in exposed)
    assert [table.get(e) for e in exposed] == pairs


def test_unknown_names_split_at_a_known_target() -> None:
    known = {"my__prov", "g"}.__contains__
    assert split_unknown("my__prov__tool", "__", known) == ("my__prov", "tool")
    assert split_unknown("g__x__y", "__", known) == ("g", "x__y")
    assert split_unknown("nobody__x", "__", known) is None
