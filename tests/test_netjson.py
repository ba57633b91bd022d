"""The .NET configuration model: parsing as the gateway parses, flattening, merging."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gwctl.errors import InputError
from gwctl.netjson.config import (
    Effective,
    FlatConfig,
    TopLevelNotObject,
    flatten_document,
    flatten_value,
    unflatten,
)
from gwctl.netjson.parser import JsonSyntaxError, parse, to_python


def flat(text: str, name: str = "f.json") -> dict[str, str | None]:
    return flatten_document(parse(text, file=name)).as_dict()


def test_comments_and_trailing_commas_are_accepted_like_the_gateway() -> None:
    text = '{ // why\n "a": [1, 2,], /* block */ "b": {"c": true,},\n}'
    assert flat(text) == {"a:0": "1", "a:1": "2", "b:c": "True"}


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("{'a': 1}", "double quotes", 1, 2),
        ('{"a": 01}', "invalid number", 1, 7),
        ('{"a": 1,, "b": 2}', "property name", 1, 9),
        ('{"a": 1 "b": 2}', "expected ',' or '}'", 1, 9),
        ('{"a": True}', "lowercase", 1, 7),
        ('{"a": NaN}', "not allowed", 1, 7),
        ('{"a": "x\n"}', "not closed", 1, 7),
        ('{"a": 1}}', "after the end", 1, 9),
        ("", "empty", 1, 1),
        ('{"a": "\\q"}', "invalid escape", 1, 8),
        ('{"a": 1 /* open', "comment is not closed", 1, 9),
        ("[,]", "expected a value", 1, 2),
        ('{"a": [1,2}', "expected ',' or ']'", 1, 11),
    ],
)
def test_syntax_errors_name_line_and_column(text: str, message: str, line: int,
                                            column: int) -> None:
    with pytest.raises(JsonSyntaxError) as info:
        parse(text, file="x.json")
    err = info.value
    assert message in err.message
    assert (err.file, err.line, err.column, err.rule) == ("x.json", line, column, "json-syntax")


def test_strict_mode_rejects_comments_and_trailing_commas() -> None:
    with pytest.raises(JsonSyntaxError, match="comments"):
        parse('{"a": 1 // c\n}', file="x", strict=True)
    with pytest.raises(JsonSyntaxError, match="trailing comma"):
        parse('{"a": 1,}', file="x", strict=True)


def test_depth_limit_is_the_gateways() -> None:
    ok = '{"a":' * 64 + "1" + "}" * 64
    parse(ok, file="x")
    with pytest.raises(JsonSyntaxError, match="deeper than 64"):
        parse('{"a":' * 65 + "1" + "}" * 65, file="x")


def test_scalars_are_stored_as_jsonelement_tostring() -> None:
    assert flat('{"n": 1.50, "t": true, "f": false, "z": null, "s": "x", "e": {}, "l": []}') \
        == {"n": "1.50", "t": "True", "f": "False", "z": "", "s": "x", "e": None, "l": None}


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(TopLevelNotObject) as info:
        flatten_document(parse("[1]", file="x.json"))
    assert info.value.rule == "top-level-not-object"
    assert "an array" in info.value.message


def test_duplicate_keys_ignore_case_and_compare_flattened_paths() -> None:
    f = flatten_document(parse('{"CORS": {"Enabled": true}, "cors": {"enabled": false}}',
                               file="x"))
    assert [(d.key, d.first.line, d.second.column) for d in f.duplicates] == \
        [("cors:enabled", 1, 38)]
    # same section twice with different leaves is not a duplicate for the provider
    g = flatten_document(parse('{"A": {"b": 1}, "a": {"c": 2}}', file="x"))
    assert g.duplicates == []


def test_positions_point_at_keys_and_items() -> None:
    doc = flatten_document(parse('{\n  "a": {\n    "b": [\n      "x"\n    ]\n  }\n}', file="p"))
    e = doc.entries["a:b:0"]
    assert (e.line, e.column, e.pointer) == (4, 7, "/a/b/0")


def test_override_array_merges_by_index_and_cannot_delete() -> None:
    base = flatten_value({"W": {"ice": [{"url": "a"}, {"url": "b"}, {"url": "c"}]}, "K": "v"})
    over = flatten_value({"w": {"ICE": [{"url": "z"}]}})
    eff = Effective([base, over])
    assert eff.tree() == {"W": {"ice": [{"url": "z"}, {"url": "b"}, {"url": "c"}]}, "K": "v"}
    assert eff.entry("w:ice:0:URL") is not None
    assert eff.get("W:ICE:0:url") == "z"


def test_later_source_wins_case_insensitively_keeping_first_spelling() -> None:
    eff = Effective([flatten_value({"Logging": {"LogLevel": {"Yarp": "Warning"}}}),
                     flatten_value({"logging": {"loglevel": {"yarp": "Debug"}}})])
    assert eff.tree() == {"Logging": {"LogLevel": {"Yarp": "Debug"}}}


keys = st.text(alphabet="abcXYZ-_.", min_size=1, max_size=5)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=4))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3),
        st.dictionaries(keys, children, min_size=1, max_size=3),
    ),
    max_leaves=12,
)


def _strings(value: object) -> object:
    """The value as the configuration sees it: every scalar a string."""
    if isinstance(value, dict):
        return {k: _strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v) for v in value]
    return flatten_value({"k": value}).get("k")


def _unique_folded(value: object) -> bool:
    if isinstance(value, dict):
        folded = [k.lower() for k in value]
        return len(folded) == len(set(folded)) and all(map(_unique_folded, value.values()))
    if isinstance(value, list):
        return all(map(_unique_folded, value))
    return True


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, documents, min_size=1, max_size=4))
def test_flatten_unflatten_round_trip(doc: dict[str, object]) -> None:
    if not _unique_folded(doc):
        return
    flat_doc = flatten_value(doc)
    assert flatten_value(unflatten(flat_doc.as_dict())).as_dict() == flat_doc.as_dict()
    # the parser and the Python flattener agree on the same document
    assert flatten_document(parse(json.dumps(doc), file="h")).as_dict() == flat_doc.as_dict()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=3), min_size=0, max_size=5),
       st.lists(st.text(max_size=3), min_size=1, max_size=5))
def test_merge_by_index(base: list[str], over: list[str]) -> None:
    eff = Effective([flatten_value({"a": base}), flatten_value({"A": over})])
    merged = eff.tree()["a"]
    expected = list(over) + list(base[len(over):])
    assert merged == expected


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abcABC", min_size=1, max_size=4))
def test_case_folding_finds_every_spelling(key: str) -> None:
    f = flatten_value({key: "1"})
    assert f.get(key.upper()) == "1" and f.get(key.lower()) == "1"
    dup = flatten_document(parse(json.dumps({key: 1}) [:-1] + f', "{key.swapcase()}": 2}}',
                                 file="d"))
    # keys that differ only in case are one key to .NET's configuration
    assert [(d.first.key, d.second.key) for d in dup.duplicates] == [(key, key.swapcase())]


def test_to_python_keeps_last_duplicate() -> None:
    assert to_python(parse('{"a": 1, "a": 2}', file="x").root) == {"a": 2}


def test_syntax_error_is_an_input_error() -> None:
    assert issubclass(JsonSyntaxError, InputError)


json_texts = st.recursive(
    st.sampled_from(['1', '1.50', '-0.5e3', 'true', 'null', '"s"', '"a\\\\"b"', '"//x"',
                     '"/*y*/"', '",}"', '01', 'NaN', "'q'"]),
    lambda c: st.one_of(
        st.lists(c, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(st.sampled_from(['"k"', '"K"', '"a:b"', '"x"']), c), max_size=3)
        .map(lambda kv: "{" + ",".join(f"{k}:{v}" for k, v in kv) + "}"),
    ),
    max_leaves=8,
)
noise = st.sampled_from(["", " ", "// c\n", "/* c */", ",", ",,", "\n"])


@settings(max_examples=300, deadline=None)
@given(json_texts, st.lists(st.tuples(st.integers(0, 200), noise), max_size=3))
def test_fast_flatten_agrees_with_the_faithful_parser(doc: str, inserts: list[tuple[int, str]]
                                                      ) -> None:
    from gwctl.netjson.config import flatten_text

    text = "{\"r\":" + doc + "}"
    for pos, extra in inserts:
        pos = min(pos, len(text) - 1)
        if text[pos] in "{}[],:":  # only between tokens, never inside a string
            text = text[:pos] + extra + text[pos:]

    def outcome(fn: Callable[[], FlatConfig]) -> object:
        try:
            flat = fn()
            return ("ok", flat.as_dict(), [d.key for d in flat.duplicates])
        except InputError:
            return "error"

    assert outcome(lambda: flatten_text(text, file="t")) == \
        outcome(lambda: flatten_document(parse(text, file="t")))


def test_null_and_empty_array_follow_the_dotnet_runtime() -> None:
    # up to .NET 9 null is "" and [] is null; from .NET 10 null stays null and [] is ""
    from gwctl.netjson.config import flatten_document as flat_of
    from gwctl.netjson.parser import parse as parse_json

    doc = parse_json('{"a": null, "b": [], "c": {}}', file="x.json")
    assert flat_of(doc).as_dict() == {"a": "", "b": None, "c": None}
    assert flat_of(doc, 10).as_dict() == {"a": None, "b": "", "c": None}
    # the same empty section twice loads; a value on an existing key does not
    assert not flat_of(parse_json('{"c": {}, "C": []}', file="x.json")).duplicates
    assert flat_of(parse_json('{"c": {}, "C": 1}', file="x.json")).duplicates
