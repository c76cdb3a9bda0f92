"""Message rendering and robust output parsing."""

from __future__ import annotations

import pytest

from promptc.prompting.adapter import ParseError, parse_reply, render_messages
from promptc.prompting.grammar import answer_grammar
from promptc.prompting.program import Candidate, Demo, Field, Program, Signature

TRIAGE = Program(
    name="t",
    version="1.0.0",
    signature=Signature(
        inputs=(Field("ticket", "str", "the message"),),
        outputs=(Field("category", "enum", labels=("billing", "technical")),),
        instructions="Route it.",
    ),
)


def test_messages_put_demos_as_turns() -> None:
    cand = Candidate("Route it.", (Demo({"ticket": "refund me"}, {"category": "billing"}),))
    messages = render_messages(TRIAGE, cand, {"ticket": "app crashes"})
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "one of: billing, technical" in messages[0]["content"]
    assert messages[2]["content"] == "category: billing"
    assert messages[3]["content"] == "ticket: app crashes"


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ("category: billing", "billing"),
        ("Category: Technical.", "technical"),
        ("technical", "technical"),
        ("**category**: billing", "billing"),
        ("I think this is a billing issue, not technical", "billing"),
    ],
)
def test_labels_are_normalised(reply: str, label: str) -> None:
    assert parse_reply(TRIAGE, reply)[0] == {"category": label}


def test_a_label_that_starts_another_loses_to_the_longer_one() -> None:
    # issue 19 item 12: "C" was answered for "C++", and "not" for "not sure"
    langs = Program(
        name="t",
        version="1.0.0",
        signature=Signature(inputs=(Field("q"),), outputs=(Field("category", "enum", labels=("C", "C++")),)),
    )
    assert parse_reply(langs, "category: C++ (it uses templates)")[0] == {"category": "C++"}
    assert parse_reply(langs, "C++ code")[0] == {"category": "C++"}
    assert parse_reply(langs, "category: C")[0] == {"category": "C"}
    hedges = Program(
        name="t",
        version="1.0.0",
        signature=Signature(inputs=(Field("q"),), outputs=(Field("a", "enum", labels=("not", "not sure")),)),
    )
    assert parse_reply(hedges, "a: not sure, it could go either way")[0] == {"a": "not sure"}


def test_parse_failure_keeps_the_raw_text() -> None:
    with pytest.raises(ParseError) as info:
        parse_reply(TRIAGE, "category: shipping")
    assert info.value.raw == "category: shipping"
    assert info.value.expected == ("category",)
    assert "none of billing, technical" in info.value.reason


def chain_of_thought(*outputs: Field) -> Program:
    """A chain-of-thought program with one input, q, and these outputs."""
    return Program(
        name="t",
        version="1.0.0",
        module="chain_of_thought",
        signature=Signature(inputs=(Field("q"),), outputs=outputs),
    )


def test_typed_outputs_and_chain_of_thought() -> None:
    program = chain_of_thought(
        Field("n", "int"),
        Field("ok", "bool"),
        Field("data", "json", schema={"type": "object", "required": ["a"]}),
    )
    reply = 'reasoning: two plus two\nn: 4 items\nok: yes\ndata: {"a": 1}'
    outputs, reasoning = parse_reply(program, reply)
    assert outputs == {"n": 4, "ok": True, "data": {"a": 1}}
    assert reasoning == "two plus two"
    with pytest.raises(ParseError, match="does not match its schema"):
        parse_reply(program, 'n: 1\nok: no\ndata: {"b": 2}')


def test_the_answer_grammar_closes_labels_numbers_and_reasoning() -> None:
    assert answer_grammar(TRIAGE) == 'root ::= "category: " ("billing" | "technical")'
    program = chain_of_thought(
        Field("n", "int"), Field("ok", "bool"), Field("say", "enum", labels=('a "b"',))
    )
    assert answer_grammar(program) == (
        'root ::= "reasoning: " [^\\n]+ "\\n" "n: " "-"? [0-9]+ "\\n" "ok: " ("true" | "false") '
        '"\\n" "say: " ("a \\"b\\"")'
    )


def test_free_text_ends_at_its_line_and_json_holds_to_its_schema() -> None:
    def outputs(*fields: Field) -> Program:
        return Program(name="t", version="1.0.0", signature=Signature(inputs=(Field("q"),), outputs=fields))

    # the line's end closes a str value; as the last field it closes the reply
    assert answer_grammar(outputs(Field("a", "str"))) == 'root ::= "a: " [^\\n]+ "\\n"?'
    assert answer_grammar(outputs(Field("a", "str"), Field("n", "int"))) == (
        'root ::= "a: " [^\\n]+ "\\n" "n: " "-"? [0-9]+'
    )
    grammar = answer_grammar(outputs(Field("a", "json")))  # no schema: any object
    assert grammar is not None
    assert grammar.splitlines()[0] == 'root ::= "a: " json-value-0'
    assert "json-value-0 ::= object" in grammar.splitlines()


def test_a_label_cut_short_under_the_grammar_is_the_one_it_starts() -> None:
    # "techn" can only go on to "technical" once the grammar holds the reply to the labels.
    assert parse_reply(TRIAGE, "category: techn", constrained=True)[0] == {"category": "technical"}
    with pytest.raises(ParseError):
        parse_reply(TRIAGE, "category: techn")  # a free reply might have gone anywhere
    program = Program(
        name="t",
        version="1.0.0",
        signature=Signature(inputs=(Field("q"),), outputs=(Field("a", "enum", labels=("neg", "negative")),)),
    )
    with pytest.raises(ParseError):
        parse_reply(program, "a: ne", constrained=True)  # starts two labels
