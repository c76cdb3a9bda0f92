"""Field types (promptc.fields): described, parsed and validated, held by the grammar, voted on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from promptc.cli.app import app
from promptc.config.load import load_config
from promptc.errors import ConfigError
from promptc.fields import KINDS, kind_of, vote_outputs
from promptc.fields.enum_field import find_label
from promptc.fields.json_field import compact
from promptc.prompting.adapter import ParseError, parse_reply, system_prompt
from promptc.prompting.grammar import answer_grammar, reply_schema
from promptc.prompting.program import Candidate, Field, Program, Signature
from tests.conftest import ConfigWriter

ENTITIES = {
    "type": "object",
    "properties": {
        "people": {"type": "array", "items": {"type": "string"}},
        "places": {"type": "array", "items": {"type": "string"}},
        "note": {"type": "string"},
    },
    "required": ["people", "places"],
    "additionalProperties": False,
}
JSON = Field("entities", "json", schema=ENTITIES)


def program(*outputs: Field, module: str = "predict") -> Program:
    """A program with one input, text, and these outputs."""
    return Program(
        name="t",
        version="1.0.0",
        module=module,  # type: ignore[arg-type]
        signature=Signature(inputs=(Field("text"),), outputs=outputs),
    )


def test_every_config_type_has_one_kind() -> None:
    schema = json.loads((Path(__file__).parents[1] / "promptc/schema/config.schema.json").read_text())
    assert set(schema["$defs"]["field"]["properties"]["type"]["enum"]) == set(KINDS)


def test_a_json_field_shows_its_schema_compactly() -> None:
    prompt = system_prompt(program(JSON), Candidate(""))
    assert (
        '- entities (JSON: {"people": [string], "places": [string], "note"?: string}; '
        "? marks an optional key)" in prompt
    )
    assert kind_of(Field("x", "json")).describe(Field("x", "json")) == "(a JSON object)"
    nested = {
        "type": "object",
        "properties": {
            "slots": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"enum": ["city", "date"]}, "value": {"type": ["string", "null"]}},
                    "required": ["name", "value"],
                },
            }
        },
        "required": ["slots"],
    }
    assert compact(nested) == '{"slots": [{"name": "city" | "date", "value": string | null}]}'


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ('entities: {"people": ["Ann"], "places": []}', {"people": ["Ann"], "places": []}),
        # Python-literal quotes spell the same value
        ("entities: {'people': ['Ann'], 'places': ['Oslo']}", {"people": ["Ann"], "places": ["Oslo"]}),
        # a code fence and words around the object
        (
            'entities: ```json\n{"people": [], "places": ["Rome"]}\n``` done',
            {"people": [], "places": ["Rome"]},
        ),
    ],
)
def test_json_values_are_read(reply: str, value: dict[str, Any]) -> None:
    assert parse_reply(program(JSON), reply)[0] == {"entities": value}


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ('entities: {"people": ["Ann"], "place": ["Oslo"]}', "does not match its schema"),  # invented key
        ('entities: {"people": "Ann", "places": []}', "at people: 'Ann' is not of type 'array'"),
        ('entities: {"people": ["Ann"], "places": ["Os', "ends before it is closed"),  # cut short
        ("entities: Here's a more concise version of the sentence.", "no JSON object"),
        ("entities: {'people': {1, 2}, 'places': []}", "invalid JSON"),  # a Python set is not JSON
        ("entities: " + "[" * 5000, "no JSON object"),
        ("entities: {" + '"a": [' * 5000, "entities:"),  # nested too deeply: refused, not a crash
        ("entities: " + "x" * 200_000, "at most"),
    ],
)
def test_hostile_json_replies_are_misses_with_a_reason(reply: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_reply(program(JSON), reply)
    assert reason in info.value.reason
    assert len(info.value.reason) < 400  # a huge reply is quoted short


def test_a_huge_string_inside_valid_json_is_kept() -> None:
    big = "y" * 50_000
    outputs, _ = parse_reply(program(JSON), json.dumps({"people": [big], "places": []}))
    assert outputs["entities"]["people"] == [big]


def test_a_json_reply_object_carries_every_output() -> None:
    # what a hosted model answers under response_format: one object, reasoning first
    p = program(
        Field("intent", "enum", labels=("book", "cancel")), JSON, Field("n", "int"), module="chain_of_thought"
    )
    reply = json.dumps(
        {"reasoning": "a trip", "intent": "Book", "entities": {"people": [], "places": ["Oslo"]}, "n": 2}
    )
    outputs, reasoning = parse_reply(p, reply)
    assert outputs == {"intent": "book", "entities": {"people": [], "places": ["Oslo"]}, "n": 2}
    assert reasoning == "a trip"


def test_the_reply_schema_is_for_json_outputs_only() -> None:
    assert reply_schema(program(Field("a", "enum", labels=("x", "y")))) is None
    schema = reply_schema(program(Field("a", "enum", labels=("x", "y")), JSON, module="chain_of_thought"))
    assert schema == {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string"},
            "a": {"type": "string", "enum": ["x", "y"]},
            "entities": ENTITIES,
        },
        "required": ["reasoning", "a", "entities"],
        "additionalProperties": False,
    }


@pytest.mark.parametrize(
    ("field", "reply", "value"),
    [
        (Field("n", "int"), "n: 4 items", 4),
        (Field("n", "int"), "n: 4.0", 4),
        (Field("x", "float"), "x: about -2.5e1", -25.0),
        (Field("ok", "bool"), "ok: Yes.", True),
        (Field("s", "str"), 's: "Oslo"', "Oslo"),
        (Field("v", "json", schema={"type": "string"}), "v: Oslo", "Oslo"),
        (Field("v", "json", schema={"type": "array", "items": {"type": "integer"}}), "v: [1, 2]", [1, 2]),
    ],
)
def test_scalar_values_are_read(field: Field, reply: str, value: Any) -> None:
    assert parse_reply(program(field), reply)[0] == {field.name: value}


@pytest.mark.parametrize(
    ("field", "reply", "reason"),
    [
        (Field("n", "int"), "n: 4.5", "not a whole number"),
        (Field("n", "int"), "n: " + "9" * 5000, "n:"),  # too many digits: a miss, not a crash
        (Field("x", "float"), "x: 1e999", "too large"),
        (Field("x", "float"), "x: many", "no number"),
        (Field("ok", "bool"), "ok: maybe", "not true/false"),
    ],
)
def test_bad_scalar_values_are_misses(field: Field, reply: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_reply(program(field), reply)


@pytest.mark.parametrize(
    ("labels", "reply", "label"),
    [
        (("C", "C++"), "category: C++", "C++"),
        (("C", "C++"), "C++ is what this code is written in", "C++"),
        (("C++", "C"), "it is C, not C++", "C"),
        (("not", "not sure"), "answer: not sure", "not sure"),
        (("not", "not sure"), "I am not sure about this", "not sure"),
        (("not sure", "not"), "not", "not"),
        (("sure", "not sure"), "I'm not sure", "not sure"),
        (("C", "Cobol"), "Cobol", "Cobol"),
    ],
)
def test_the_longest_label_named_first_wins(labels: tuple[str, ...], reply: str, label: str) -> None:
    p = program(Field("category", "enum", labels=labels))
    assert parse_reply(p, reply)[0] == {"category": label}


def test_find_label_respects_label_boundaries() -> None:
    assert find_label("Cobol", ["C"]) is None
    assert find_label("C++.", ["C", "C++"]) == "C++"
    assert find_label("nothing here", ["a", "b"]) is None


def test_the_grammar_holds_a_mixed_signature_in_one_grammar() -> None:
    p = program(
        Field("intent", "enum", labels=("book", "cancel")),
        JSON,
        Field("n", "int"),
        Field("ok", "bool"),
        Field("summary", "str"),
        module="chain_of_thought",
    )
    grammar = answer_grammar(p)
    assert grammar is not None
    root, *rules = grammar.splitlines()
    assert root == (
        'root ::= "reasoning: " [^\\n]+ "\\n" "intent: " ("book" | "cancel") "\\n" '
        '"entities: " json-value-0 "\\n" "n: " "-"? [0-9]+ "\\n" "ok: " ("true" | "false") '
        '"\\n" "summary: " [^\\n]+ "\\n"?'
    )
    defined = {line.split(" ::= ")[0] for line in rules}
    assert "json-value-0" in defined
    # required keys first, in order; the optional note after; no other key
    top = next(line for line in rules if line.startswith("json-value-0 ::= "))
    assert top.index("people-kv") < top.index("places-kv") < top.index("note-kv")
    assert "additional" not in top


def test_json_fields_share_rules_and_a_bare_type_gets_its_own_name() -> None:
    grammar = answer_grammar(
        program(
            JSON, Field("city", "json", schema={"type": "string"}), Field("copy", "json", schema=ENTITIES)
        )
    )
    assert grammar is not None
    lines = grammar.splitlines()
    assert (
        lines[0]
        == 'root ::= "entities: " json-value-0 "\\n" "city: " json-value-1 "\\n" "copy: " json-value-0'
    )
    assert "json-value-1 ::= string" in lines
    assert len([line for line in lines if line.startswith("string ::= ")]) == 1


def test_a_schema_the_converter_cannot_express_still_gets_a_json_grammar() -> None:
    odd = {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}}
    grammar = answer_grammar(program(Field("v", "json", schema=odd)))
    assert grammar is not None and "json-value-0 ::= object" in grammar.splitlines()


def test_vote_is_by_majority_per_field_items_and_keys() -> None:
    fields = (Field("intent", "enum", labels=("book", "cancel")), JSON, Field("n", "int"))
    answers = [
        {"intent": "book", "entities": {"people": ["Ann", "Bo"], "places": ["Oslo"]}, "n": 1},
        {"intent": "cancel", "entities": {"people": ["Ann"], "places": ["Oslo"], "note": "x"}, "n": 2},
        {"intent": "book", "entities": {"people": ["Ann", "Cy"], "places": []}, "n": 2},
    ]
    assert vote_outputs(fields, answers) == {
        "intent": "book",
        "entities": {"people": ["Ann"], "places": ["Oslo"]},  # Bo, Cy and the note: one member each
        "n": 2,
    }
    assert vote_outputs(fields, []) is None


def test_a_vote_that_would_break_the_schema_takes_the_commonest_whole_value() -> None:
    field = Field("v", "json", schema={"type": "object", "required": ["a"]})
    values = [{"a": 1, "b": 1}, {"b": 2}, {"a": 3}]  # "a" kept (2 of 3)... and voted 1 vs 3
    assert kind_of(field).vote(field, values) == {"a": 1, "b": 1}
    strict = Field("v", "json", schema={"type": "array", "minItems": 2})
    assert kind_of(strict).vote(strict, [[1, 2], [3, 4], [5, 1]]) == [1, 2]  # [1] alone is too short


def test_ties_go_to_the_first_member_and_text_compares_loosely() -> None:
    s = Field("s", "str")
    assert kind_of(s).vote(s, ["Oslo", "Rome", " oslo "]) == "Oslo"
    assert kind_of(s).key("New  York") == kind_of(s).key("new york")
    e = Field("e", "enum", labels=("a", "b"))
    assert kind_of(e).vote(e, ["b", "a"]) == "b"


def _with_details(schema: Any) -> Any:
    def edit(config: dict[str, Any]) -> None:
        config["program"]["outputs"]["details"] = {"type": "json", "schema": schema}
        config["metric"] = "exact_match"

    return edit


def test_an_invalid_json_schema_is_refused_at_load_naming_the_key(write_config: ConfigWriter) -> None:
    path = write_config(_with_details({"type": "objekt"}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "program.outputs.details.schema: not a valid JSON Schema" in str(info.value)
    assert "json-schema.org" in (info.value.fix or "")
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2, result.output
    assert "program.outputs.details.schema" in result.output


def test_a_valid_json_schema_loads(write_config: ConfigWriter) -> None:
    config = load_config(write_config(_with_details(ENTITIES)))
    assert config.program.signature.outputs[-1].schema == ENTITIES


def test_what_code_elsewhere_asks_of_a_type_is_the_types_own_answer() -> None:
    # label decisions, input checks, the reply's end and the hosted reply schema ask the type,
    # never its name: a new type answers these in its own module.
    asked = {
        name: {a for a in ("closed", "textual", "free_text", "structured") if getattr(kind, a)}
        for name, kind in KINDS.items()
    }
    assert asked == {
        "enum": {"closed", "textual"},
        "str": {"textual", "free_text"},
        "json": {"structured"},
        "int": set(),
        "float": set(),
        "bool": set(),
    }
