"""The split leak check: normalisation, ids, near-duplicates and what the report names."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from datasketch import MinHash

from promptc.config.load import load_config
from promptc.data.leakage import DEFAULT_THRESHOLD, check_splits
from promptc.data.load import Example, Splits, load_splits
from promptc.data.minhash import (
    SEED,
    jaccard,
    lsh_bands,
    minhash_signatures,
    normalise,
    normalise_all,
    shingle_hashes,
    shingles,
)
from tests.conftest import ConfigWriter, write_jsonl


def _examples(prefix: str, texts: list[str]) -> tuple[Example, ...]:
    return tuple(
        Example(
            id=f"{prefix}{i}", inputs={"ticket": t}, outputs={"category": "billing"}, source=f"{prefix}:{i}"
        )
        for i, t in enumerate(texts)
    )


def _splits(train: list[str], test: list[str], val: list[str] | None = None) -> Splits:
    return Splits(
        train=_examples("A", train),
        val=_examples("V", val or ["an unrelated question about something else entirely"]),
        test=_examples("B", test),
    )


def _kinds(splits: Splits) -> list[tuple[str, str, str]]:
    return [(leak.kind, leak.a.id, leak.b.id) for leak in check_splits(splits).leaks]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("It doesn\u2019t work", "it doesn't work"),  # curly and straight apostrophes
        ("It doesnt work", "it doesn't work"),
        ("\uff32\uff25\uff26\uff35\uff2e\uff24 please", "refund please"),  # full-width letters
        ("  My ORDER, is late!!\n", "my order is late"),
        ("e-mail\u200b address", "email address"),  # hyphen inside a word, zero-width space
        ("\u201cquoted\u201d \u2014 text", '"quoted" - text'),
        ("\u0440\u0430ypal \u0441\u043e\u0440y", "paypal copy"),  # Cyrillic er, a, es, o, er
        ("\u0412\u041e\u041e\u041a \u0410 \u0422\u0410\u0425I", "book a taxi"),  # Cyrillic capitals
        ("\u039a\u0391\u03a4\u0395 \u03bd\u03bfw", "kate vow"),  # Greek capitals, small nu omicron
    ],
)
def test_normalise_folds_unicode_case_punctuation_and_whitespace(a: str, b: str) -> None:
    assert normalise(a) == normalise(b)


@pytest.mark.parametrize(
    ("a", "b"), [("3.5 kg", "35 kg"), ("well-known", "well known"), ("one,two", "onetwo")]
)
def test_normalise_keeps_apart_what_differs(a: str, b: str) -> None:
    assert normalise(a) != normalise(b)


@pytest.mark.parametrize(
    ("train", "test"),
    [
        ("It doesn\u2019t turn on after the update", "It doesn't turn on after the update"),
        ("It doesnt turn on after the update", "It doesn't turn on after the update"),
        (
            "".join(chr(ord(c) + 0xFEE0) if c != " " else "\u3000" for c in "I was charged TWICE"),
            "I was charged twice",
        ),
        # Cyrillic look-alikes (NFKC keeps them apart): e, o, a, p, c in "My order was charged twice".
        ("My \u043erder w\u0430s \u0441h\u0430rg\u0435d twi\u0441\u0435", "My order was charged twice"),
    ],
)
def test_inputs_equal_after_normalising_are_leaks(train: str, test: str) -> None:
    assert _kinds(_splits([train], [test])) == [("input", "A0", "B0")]


def test_ids_are_compared_without_surrounding_whitespace() -> None:
    splits = Splits(
        train=(Example(id=" T0002", inputs={"ticket": "my parcel is late"}, outputs={}),),
        val=(Example(id="T0003", inputs={"ticket": "reset my password"}, outputs={}),),
        test=(Example(id="T0002 ", inputs={"ticket": "the invoice total is wrong"}, outputs={}),),
    )
    leaks = check_splits(splits).leaks
    assert [(leak.kind, leak.splits, leak.a.id, leak.b.id) for leak in leaks] == [
        ("id", ("train", "test"), " T0002", "T0002 ")
    ]


@pytest.mark.parametrize(
    ("train", "test"),
    [
        ("The blender lid does not close properly", "The kettle lid does not close properly"),
        ("My parcel never arrived at the new address", "My parcel never arrived at the old address"),
        ("Please cancel my subscription before next month", "Please cancel my subscription before next week"),
        ("Where can I download the latest firmware", "Where can I download the newest firmware"),
        ("I was charged twice for one order", "I was charged twice for my order"),
    ],
)
def test_one_word_changed_in_a_short_text_is_a_near_duplicate(train: str, test: str) -> None:
    report = check_splits(_splits([train, "Reset my password please"], ["The app crashes on start", test]))
    assert [(leak.kind, leak.a.id, leak.b.id) for leak in report.leaks] == [("near_duplicate", "A0", "B1")]
    similarity = report.leaks[0].similarity
    assert similarity == round(jaccard(shingles(normalise(train)), shingles(normalise(test))), 3)
    assert DEFAULT_THRESHOLD <= similarity < 1


def test_unrelated_short_texts_on_one_topic_are_not_near_duplicates() -> None:
    train = [
        "My parcel never arrived",
        "I was charged twice this month",
        "The courier lost my parcel",
        "Please refund my last payment",
        "Where is my order",
        "Can I change my delivery address",
        "The app keeps crashing on my phone",
        "My order arrived damaged",
        "How do I cancel my subscription",
    ]
    test = [
        "The courier left it at the wrong door",
        "I was never charged for my order",
        "My refund has not arrived yet",
        "Why was my card charged again",
        "Where is the tracking number for my order",
        "Can I change the delivery date",
        "The app logs me out on my phone",
        "Half of the items in my box are missing",
        "How do I update my payment card",
    ]
    assert check_splits(_splits(train, test)).ok


def test_a_longer_text_with_one_word_changed_is_found_among_many_rows() -> None:
    rng = random.Random(3)
    words = [
        "order",
        "parcel",
        "refund",
        "charge",
        "screen",
        "battery",
        "login",
        "account",
        "update",
        "courier",
        "invoice",
        "app",
    ]
    train = [" ".join(rng.choice(words) + f"{rng.randrange(999)}" for _ in range(12)) for _ in range(1500)]
    test = [" ".join(rng.choice(words) + f"{rng.randrange(999)}" for _ in range(12)) for _ in range(1500)]
    copied = train[700].split()
    copied[5] = "totally"
    test[42] = " ".join(copied)
    assert _kinds(_splits(train, test)) == [("near_duplicate", "A700", "B42")]


def test_the_check_is_deterministic() -> None:
    rng = random.Random(5)
    texts = [
        " ".join(rng.choice(["abc", "def", "ghi", "jkl", "mno", "pqr"]) for _ in range(6)) for _ in range(300)
    ]
    splits = _splits(texts[:150], texts[150:])
    assert check_splits(splits) == check_splits(splits)


def test_minhash_values_equal_datasketch_affine32_minhash() -> None:
    texts = [normalise(t) for t in ["my order is late", "It doesn't work", "x", "", "naïve café 😀 ok"]]
    signatures = minhash_signatures(texts, 128)
    for text, row in zip(texts, signatures, strict=True):
        reference = MinHash(num_perm=128, seed=SEED, scheme="affine32", hashfunc=lambda h: h)
        reference.update_batch(shingle_hashes(text))
        assert list(reference.hashvalues) == list(row)
        assert len(shingle_hashes(text)) == len(shingles(text))


@pytest.mark.parametrize(("threshold", "bands", "rows"), [(0.5, 42, 3), (0.85, 16, 8)])
def test_lsh_bands_find_a_pair_at_the_threshold_with_high_probability(
    threshold: float, bands: int, rows: int
) -> None:
    assert lsh_bands(threshold) == (bands, rows)
    assert 1 - (1 - threshold**rows) ** bands >= 0.99


def test_the_report_names_splits_rows_ids_and_similarity(write_config: ConfigWriter, tmp_path: Path) -> None:
    path = write_config()
    train = [json.loads(x) for x in (tmp_path / "data/train.jsonl").read_text().splitlines()]
    test = [json.loads(x) for x in (tmp_path / "data/test.jsonl").read_text().splitlines()]
    val = [json.loads(x) for x in (tmp_path / "data/val.jsonl").read_text().splitlines()]
    train[4]["ticket"] = "The blender lid does not close properly"
    test[6]["ticket"] = "The kettle lid does not close properly"
    val[2]["ticket"] = "I can\u2019t log in to my account"
    test[9]["ticket"] = "i cant log in to my account!"
    for name, rows in (("train", train), ("val", val), ("test", test)):
        write_jsonl(tmp_path / f"data/{name}.jsonl", rows)
    cfg = load_config(path)
    report = check_splits(load_splits(cfg.data, cfg.program.signature), cfg.data.near_duplicate_threshold)
    assert [
        (leak.kind, leak.splits, leak.a.source, leak.a.id, leak.b.source, leak.b.id) for leak in report.leaks
    ] == [
        ("near_duplicate", ("train", "test"), "train.jsonl:5", "E0004", "test.jsonl:7", "E0206"),
        ("input", ("val", "test"), "val.jsonl:3", "E0102", "test.jsonl:10", "E0209"),
    ]
    assert report.leaks[0].similarity < 1 and report.leaks[1].similarity == 1


def test_an_empty_split_has_nothing_to_leak() -> None:
    splits = Splits(
        train=_examples("A", ["my parcel is late"]), val=(), test=_examples("B", ["my parcel is late"])
    )
    assert [(leak.kind, leak.splits) for leak in check_splits(splits).leaks] == [("input", ("train", "test"))]


def test_normalising_many_texts_at_once_matches_one_at_a_time() -> None:
    texts = [
        "It doesn\u2019t work!",
        "\uff26\uff35\uff2c\uff2c width",
        "e-mail 3.5 \u00e9t\u00e9",
        "a\u200bb  c\n",
    ] * 400
    assert sum(map(len, texts)) > 4096  # the batch path classifies characters with a table
    assert normalise_all(texts) == [normalise(t) for t in texts]
