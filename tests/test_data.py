"""Dataset loading, signature checks and leakage checks on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptc.config.load import load_config
from promptc.data.leakage import check_splits
from promptc.data.load import load_splits
from promptc.data.minhash import normalise
from promptc.errors import DataError
from tests.conftest import ConfigWriter, make_examples, write_jsonl


def _load(path: Path):  # type: ignore[no-untyped-def]
    cfg = load_config(path)
    return load_splits(cfg.data, cfg.program.signature)


def test_normalise_folds_case_whitespace_and_punctuation() -> None:
    assert normalise("  My ORDER, is late!!\n") == normalise("my order is late")


def test_loads_jsonl_splits_with_slices(write_config: ConfigWriter) -> None:
    splits = _load(write_config())
    assert (len(splits.train), len(splits.val), len(splits.test)) == (40, 24, 32)
    assert splits.test[0].slice in {"email", "chat", "phone", "social"}
    assert splits.train[0].source == "train.jsonl:1"
    assert check_splits(splits).ok


def test_one_csv_file_with_a_split_column(write_config: ConfigWriter, tmp_path: Path) -> None:
    rows = make_examples(30, seed=5)
    lines = ["id,ticket,category,channel,split"]
    for i, r in enumerate(rows):
        lines.append(
            f"{r['id']},{r['ticket']},{r['category']},{r['channel']},{['train', 'val', 'test'][i % 3]}"
        )
    (tmp_path / "all.csv").write_text("\n".join(lines) + "\n")

    def edit(c: dict) -> None:  # type: ignore[type-arg]
        c["data"] = {"file": "all.csv", "slice_column": "channel"}

    splits = _load(write_config(edit))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (10, 10, 10)
    assert splits.val[0].source == "all.csv:3"


def test_near_duplicates_across_splits_are_found(write_config: ConfigWriter, tmp_path: Path) -> None:
    path = write_config()
    train = [json.loads(x) for x in (tmp_path / "data/train.jsonl").read_text().splitlines()]
    test = [json.loads(x) for x in (tmp_path / "data/test.jsonl").read_text().splitlines()]
    test[3]["ticket"] = train[9]["ticket"] + " thanks"
    write_jsonl(tmp_path / "data/test.jsonl", test)
    report = check_splits(_load(path), near_duplicate_threshold=0.6)
    assert [(leak.kind, leak.a.id, leak.b.id) for leak in report.leaks] == [
        ("near_duplicate", "E0009", "E0203")
    ]
    assert 0.6 <= report.leaks[0].similarity < 1


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda rows: rows[2].pop("ticket"), "train.jsonl:3 (id E0002): column 'ticket' is empty"),
        (
            lambda rows: [r.pop("channel") for r in rows],
            "missing column(s) channel (found: category, id, ticket)",
        ),
        (
            lambda rows: rows[2].update(category="refunds"),
            "train.jsonl:3 (id E0002): column 'category' 'refunds' is not one of",
        ),
        (
            lambda rows: rows[4].update(id=rows[1]["id"]),
            "id 'E0001' appears twice (train.jsonl:2 and train.jsonl:5)",
        ),
        (lambda rows: rows[0].update(channel=""), "train.jsonl:1 (id E0000): empty slice column 'channel'"),
    ],
)
def test_bad_rows_are_named(
    write_config: ConfigWriter, tmp_path: Path, mutate: object, expected: str
) -> None:
    path = write_config()
    rows = [json.loads(x) for x in (tmp_path / "data/train.jsonl").read_text().splitlines()]
    mutate(rows)  # type: ignore[operator]
    write_jsonl(tmp_path / "data/train.jsonl", rows)
    with pytest.raises(DataError) as info:
        _load(path)
    assert info.value.exit_code == 2
    assert expected in info.value.message


def test_missing_file_and_unknown_format(write_config: ConfigWriter, tmp_path: Path) -> None:
    path = write_config(lambda c: c["data"].update(val="data/nope.jsonl"))
    with pytest.raises(DataError, match=r"nope\.jsonl: data file not found"):
        _load(path)
    (tmp_path / "data/val.xlsx").write_text("x")
    path = write_config(lambda c: c["data"].update(val="data/val.xlsx"))
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'"):
        _load(path)


SPLIT_NAMES = ("train", "val", "test")


def _one_file(write_config: ConfigWriter, name: str) -> Path:
    def edit(c: dict) -> None:  # type: ignore[type-arg]
        c["data"] = {"file": name, "slice_column": "channel"}

    return write_config(edit)


def test_csv_quoting_bom_and_blank_lines(write_config: ConfigWriter, tmp_path: Path) -> None:
    rows = make_examples(9, seed=6)
    lines = ["id,ticket,category,channel,split"]
    for i, r in enumerate(rows):
        ticket = r["ticket"].replace('"', "'")
        lines.append(f'{r["id"]},"{ticket}, ""really""",{r["category"]},{r["channel"]},{SPLIT_NAMES[i % 3]}')
        lines.append("")
    (tmp_path / "all.csv").write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    splits = _load(_one_file(write_config, "all.csv"))
    assert len(splits.train) == len(splits.val) == len(splits.test) == 3
    assert splits.train[0].id == rows[0]["id"]
    assert splits.train[0].inputs["ticket"].endswith(', "really"')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "all.csv: no header line"),
        ("id,ticket,ticket,category,channel,split\n", "'ticket' appear twice"),
        (
            "id,ticket,category,channel,split\nE1,hello,billing,chat\n",
            "all.csv:2: 4 field(s) where the header has 5",
        ),
        (
            'id,ticket,category,channel,split\nE1,"a"b,billing,chat,train\n',
            "all.csv: cannot parse .csv file",
        ),
    ],
)
def test_malformed_csv_is_named(write_config: ConfigWriter, tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "all.csv").write_text(text)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _load(_one_file(write_config, "all.csv"))


def test_json_in_column_layout_loads(write_config: ConfigWriter, tmp_path: Path) -> None:
    rows = make_examples(6, seed=7)
    for i, r in enumerate(rows):
        r["split"] = SPLIT_NAMES[i % 3]
    by_column = {k: {str(i): r[k] for i, r in enumerate(rows)} for k in rows[0]}
    (tmp_path / "all.json").write_text(json.dumps(by_column))
    as_lists = _load(_one_file(write_config, "all.json"))
    (tmp_path / "all.json").write_text(json.dumps({k: [r[k] for r in rows] for k in rows[0]}))
    assert _load(_one_file(write_config, "all.json")) == as_lists
    assert [e.id for e in as_lists.train] == [rows[0]["id"], rows[3]["id"]]
    (tmp_path / "all.json").write_text(json.dumps({"id": ["a", "b"], "ticket": ["x"]}))
    with pytest.raises(DataError, match="columns have different lengths"):
        _load(_one_file(write_config, "all.json"))


@pytest.mark.parametrize("name", ["(overall)", "overall", " Overall ", "(OVERALL)"])
def test_a_slice_named_like_the_overall_row_is_refused(
    write_config: ConfigWriter, tmp_path: Path, name: str
) -> None:
    """A slice `(overall)` took over the overall gate (n=10 of 160); `overall` rendered as that row."""
    from tests.test_cli import invoke

    path = write_config()
    rows = [json.loads(x) for x in (tmp_path / "data/test.jsonl").read_text().splitlines()]
    rows[1]["channel"] = name
    write_jsonl(tmp_path / "data/test.jsonl", rows)
    result = invoke("check", path)
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"test.jsonl:2 (id E0201): slice column 'channel' is {name!r}" in said
    assert "reserved for the whole test split's row" in said and "fix: rename the slice" in said


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("id", True, "train.jsonl:3: id column 'id' is a boolean (true), not text or a whole number"),
        ("id", 1.5, "train.jsonl:3: id column 'id' is the number 1.5, not text or a whole number"),
        ("id", ["E1"], "id column 'id' is a list (['E1']), not text or a whole number"),
        ("channel", False, "slice column 'channel' is a boolean (false)"),
        ("channel", {"a": 1}, "slice column 'channel' is a dict"),
        ("ticket", ["my", "order"], "column 'ticket' is a list (['my', 'order']), not text"),
        ("ticket", True, "column 'ticket' is a boolean (True), not text"),
        ("ticket", {"a": 1}, "column 'ticket' is a dict"),
    ],
)
def test_values_without_one_obvious_text_are_refused(
    write_config: ConfigWriter, tmp_path: Path, column: str, value: object, expected: str
) -> None:
    """`true`, `1.0` and a list used to become Python reprs ("True", "['my', 'order']")."""
    path = write_config()
    rows = [json.loads(x) for x in (tmp_path / "data/train.jsonl").read_text().splitlines()]
    rows[2][column] = value
    write_jsonl(tmp_path / "data/train.jsonl", rows)
    with pytest.raises(DataError) as info:
        _load(path)
    assert expected in info.value.message and info.value.fix


def test_whole_numbers_are_one_label_however_written(write_config: ConfigWriter, tmp_path: Path) -> None:
    """Slices 5 and 5.0 were two slices, and id 1.0 became "1.0" where 1 became "1"."""
    path = write_config()
    rows = [json.loads(x) for x in (tmp_path / "data/test.jsonl").read_text().splitlines()]
    for i, r in enumerate(rows):
        r["channel"] = 5 if i % 2 else 5.0
    rows[0]["id"], rows[1]["id"] = 1.0, 2
    write_jsonl(tmp_path / "data/test.jsonl", rows)
    splits = _load(path)
    assert {e.slice for e in splits.test} == {"5"}
    assert [e.id for e in splits.test[:2]] == ["1", "2"]
    rows[1]["id"] = 1
    write_jsonl(tmp_path / "data/test.jsonl", rows)
    with pytest.raises(DataError, match="id '1' appears twice"):
        _load(path)


def test_a_text_output_may_list_every_answer_that_counts(tmp_path: Path) -> None:
    """SQuAD-style gold: a list of answers loads as it is; demos show the first; metrics take the best."""
    from promptc.metrics import load_metric
    from promptc.prompting.adapter import render_messages
    from promptc.prompting.program import Candidate, Demo, Field, Program, Signature
    from promptc.results import Prediction

    signature = Signature((Field("question"),), (Field("answer"),))
    program = Program("qa", "1.0.0", signature)
    rows = [
        {"id": "a", "question": "who won?", "answer": ["Denver Broncos", "Broncos", "Broncos"]},
        {"id": "b", "question": "when?", "answer": "1966"},
    ]
    from promptc.data.load import coerce_value

    golds = [coerce_value(signature.outputs[0], r["answer"], gold=True) for r in rows]
    assert golds == [["Denver Broncos", "Broncos"], "1966"]

    demo = Demo(inputs={"question": "who won?"}, outputs={"answer": golds[0]})
    messages = render_messages(program, Candidate("Answer.", (demo,)), {"question": "when?"})
    assert "answer: Denver Broncos\n" in "\n".join(m["content"] for m in messages) + "\n"

    metric = load_metric("token_f1", signature, tmp_path)
    reply = Prediction({"answer": "the Broncos"}, None, "answer: the Broncos", None, 0, 0, False, 0.0)
    assert metric({"answer": golds[0]}, reply.outputs).score == 1.0  # best over the list

    for bad, why in (([], "empty list"), ([1.5, ["x"]], "not text"), ({"a": 1}, "not text")):
        with pytest.raises(ValueError, match=why):
            coerce_value(signature.outputs[0], bad, gold=True)
    with pytest.raises(ValueError, match="not text"):  # an input is one text, never a list
        coerce_value(signature.inputs[0], ["a", "b"])
