"""Time the split leak check on templated support tickets, old method against new, and its recall.

Run: .venv/bin/python bench/leak_check.py [--sizes 5000 20000 100000] [--old-sizes 5000 20000]

Train and test each get N rows generated from six ticket templates with random slot fillers
(products, problems, dates, order numbers, names, requests, and four words of the customer's own
drawn from the vocabulary of datasets/cr), the kind of text on which the old
word-trigram check slowed down: every two rows of one template share its fixed wording. Into those
rows the script plants near-duplicate pairs, a row in train and an edited copy in test:

- one word replaced, in a templated ticket and in a short 6-10 word sentence;
- curly against straight apostrophes, `doesn't` against `doesnt`, full-width letters, case and
  punctuation changes;
- one word dropped.

It reports the wall time of `promptc.data.leakage.check_splits` (the new check) at each size, the time of
the old word-trigram check (copied below as it was, threshold 0.85) where it finishes in reasonable
time, which planted pairs each method found (recall), and how many other pairs the new check
reported (pairs of generated rows that really share half their 4-grams). Deterministic: seeded.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import string
import time
from collections import defaultdict
from pathlib import Path

from promptc.data import leakage
from promptc.data.leakage import DEFAULT_THRESHOLD, check_splits
from promptc.data.load import Example, Splits
from promptc.data.minhash import lsh_bands, minhash_signatures, normalise_all, shingles

ROOT = Path(__file__).resolve().parent.parent
ADJECTIVES = [
    "new",
    "small",
    "large",
    "cheap",
    "premium",
    "wireless",
    "portable",
    "smart",
    "compact",
    "classic",
    "digital",
    "heavy",
    "light",
    "quiet",
    "fast",
    "slim",
    "rugged",
    "mini",
    "pro",
    "ultra",
    "foldable",
    "refurbished",
    "outdoor",
    "kids",
    "travel",
]
COLOURS = [
    "black",
    "white",
    "silver",
    "red",
    "blue",
    "green",
    "grey",
    "gold",
    "pink",
    "orange",
    "purple",
    "yellow",
    "navy",
    "beige",
]
PRODUCTS = [
    "kettle",
    "toaster",
    "blender",
    "speaker",
    "headset",
    "charger",
    "router",
    "camera",
    "tablet",
    "laptop",
    "monitor",
    "keyboard",
    "mouse",
    "printer",
    "scanner",
    "heater",
    "fan",
    "lamp",
    "drone",
    "watch",
    "phone",
    "earbuds",
    "projector",
    "microwave",
    "vacuum",
    "thermostat",
    "doorbell",
    "webcam",
    "smartwatch",
    "radio",
    "dishwasher",
    "fridge",
    "freezer",
    "oven",
    "iron",
    "shaver",
    "trimmer",
    "scale",
    "hub",
    "juicer",
    "grinder",
    "mixer",
]
PROBLEMS = [
    "stopped working",
    "will not turn on",
    "keeps restarting",
    "arrived broken",
    "is missing a part",
    "makes a loud noise",
    "overheats quickly",
    "does not charge",
    "lost its settings",
    "shows an error code",
    "has a cracked screen",
    "disconnects from the wifi",
    "drains the battery overnight",
    "came without a manual",
    "smells like burning plastic",
    "flickers all the time",
    "is the wrong colour",
    "leaks water",
    "cannot pair with my phone",
    "froze during the update",
    "runs very slowly",
    "beeps every few minutes",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
FIRST = [
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Emma",
    "Farid",
    "Grace",
    "Hugo",
    "Iris",
    "Jon",
    "Kai",
    "Lena",
    "Maya",
    "Noor",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Vik",
    "Wen",
    "Yara",
    "Zoe",
    "Leo",
    "Mia",
    "Nils",
    "Olga",
    "Pavel",
]
LAST = [
    "Silva",
    "Okafor",
    "Novak",
    "Chen",
    "Garcia",
    "Patel",
    "Kim",
    "Muller",
    "Rossi",
    "Haddad",
    "Smith",
    "Ivanova",
    "Tanaka",
    "Costa",
    "Dubois",
]
REQUESTS = [
    "send a replacement",
    "refund my card",
    "tell me what to do",
    "call me back",
    "escalate this",
    "send a return label",
    "check my warranty",
    "fix it remotely",
    "cancel the order",
    "explain the charge",
    "book a repair",
    "send a technician",
]
TEMPLATES = [
    "Hello, my {product} {problem} on {date}: {note}. Order {order}. Thanks, {name}",
    "Hi team, I bought a {product} on {date} and it {problem} ({note}); could you {request}?",
    "Order {order}: the {product} {problem}. {note}. Please {request}. {name}",
    "{name} here. My {product} {problem} since {date}, {note} - can you {request}? Ref {order}",
    "The {product} I ordered ({order}) {problem}; {note}. I would like you to {request}.",
    "Good morning, since {date} my {product} {problem}. {note}. Please {request}? {name}, order {order}",
]
# The customer's own words: four words drawn from the vocabulary of datasets/cr (product reviews).
VOCABULARY = sorted(
    {
        word
        for split in ("train", "val", "test")
        for line in (ROOT / "datasets" / "cr" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        for word in json.loads(line)["text"].split()
        if word.isalpha() and len(word) > 2
    }
)
SHORT = [
    "My parcel never arrived at the new address.",
    "The app logs me out every single time.",
    "I was charged twice for the same order.",
    "Please cancel my subscription before next month.",
    "The blender lid does not close properly.",
    "Where can I download the latest firmware?",
    "My password reset email never came through.",
    "The courier left the box in the rain.",
    "Can I change the delivery date to Friday?",
    "The screen has a dead pixel near the corner.",
    "Your invoice shows the wrong billing address.",
    "The replacement charger also stopped working today.",
    "How long does a refund usually take?",
    "My account was locked after three attempts.",
    "The tracking page has not updated since Monday.",
    "The headphones crackle when the volume is high.",
    "I never received the confirmation email.",
    "The voucher code was rejected at checkout.",
    "Both speakers lose their connection every evening.",
    "Support closed my ticket without any reply.",
]
APOSTROPHES = [
    "It doesn't work.",
    "I can't log in.",
    "It won't charge.",
    "That isn't right.",
    "I haven't heard back.",
    "It's still broken.",
]
FULL_WIDTH = {ord(c): chr(ord(c) + 0xFEE0) for c in string.ascii_letters + string.digits}


def ticket(rng: random.Random) -> str:
    """One generated ticket: a random template with random slot fillers."""
    return rng.choice(TEMPLATES).format(
        product=f"{rng.choice(ADJECTIVES)} {rng.choice(COLOURS)} {rng.choice(PRODUCTS)}",
        problem=rng.choice(PROBLEMS),
        date=f"{rng.choice(MONTHS)} {rng.randint(1, 28)}",
        order=f"NW-{rng.randrange(10**6):06d}",
        name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        request=rng.choice(REQUESTS),
        note=" ".join(rng.choice(VOCABULARY) for _ in range(4)),
    )


def replace_word(text: str, rng: random.Random) -> str:
    """Replace one word of 3+ letters with another word of the same kind of text."""
    words = text.split()
    spots = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 3]
    i = rng.choice(spots)
    pool = [w for w in ADJECTIVES + COLOURS + PRODUCTS if w != words[i].lower()]
    words[i] = rng.choice(pool)
    return " ".join(words)


def drop_word(text: str, rng: random.Random) -> str:
    """Drop one word."""
    words = text.split()
    del words[rng.randrange(len(words))]
    return " ".join(words)


def planted_pairs(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    """(kind, train text, test text) near-duplicate pairs, `count` of each kind."""
    pairs = []
    for short in rng.sample(SHORT, count):
        pairs.append(("one word replaced (6-10 words)", short, replace_word(short, rng)))
    for _ in range(count):
        row = ticket(rng)
        pairs.append(("one word replaced (ticket)", row, replace_word(row, rng)))
        row = ticket(rng)
        pairs.append(("one word dropped (ticket)", row, drop_word(row, rng)))
        row = f"{ticket(rng)} {rng.choice(APOSTROPHES)}"
        pairs.append(("curly vs straight apostrophes", row, row.replace("'", "\u2019")))
        row = f"{ticket(rng)} {rng.choice(APOSTROPHES)}"
        pairs.append(("doesn't vs doesnt", row, row.replace("'", "")))
        row = ticket(rng)
        pairs.append(("full-width letters", row, row.translate(FULL_WIDTH)))
        row = ticket(rng)
        pairs.append(("case and punctuation", row, row.upper().replace(",", "").replace(".", "!!")))
    return pairs


def splits(size: int, plants: list[tuple[str, str, str]], seed: int = 7) -> Splits:
    """Train and test of `size` rows each (planted pairs included) and a small val split."""
    rng = random.Random(seed)
    train = [ticket(rng) for _ in range(size - len(plants))] + [p[1] for p in plants]
    test = [ticket(rng) for _ in range(size - len(plants))] + [p[2] for p in plants]
    val = [ticket(rng) for _ in range(50)]

    def examples(texts: list[str], prefix: str) -> tuple[Example, ...]:
        return tuple(
            Example(id=f"{prefix}{i:06d}", inputs={"ticket": t}, outputs={"category": "billing"})
            for i, t in enumerate(texts)
        )

    return Splits(train=examples(train, "A"), val=examples(val, "V"), test=examples(test, "B"))


# --- the old check (promptc/data/load.py before promptc/data/leakage.py), copied as it was ----------------

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")


def old_normalise(text: str) -> str:
    """Fold case, punctuation and whitespace, for duplicate detection."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def old_shingles(text: str, size: int = 3) -> frozenset[str]:
    """Word trigrams."""
    words = text.split()
    if len(words) < size:
        return frozenset([" ".join(words)])
    return frozenset(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))


def old_check(
    a: tuple[Example, ...], b: tuple[Example, ...], threshold: float = 0.85
) -> set[tuple[str, str]]:
    """Pairs (a id, b id) with the same id, the same normalised input or word-trigram Jaccard >= threshold."""
    keys_a = [old_normalise(e.inputs["ticket"]) for e in a]
    found: set[tuple[str, str]] = set()
    by_key = {k: e for k, e in zip(keys_a, a, strict=True)}
    index: dict[str, list[int]] = defaultdict(list)
    a_sets = [old_shingles(k) for k in keys_a]
    for i, sh in enumerate(a_sets):
        for s in sh:
            index[s].append(i)
    ids = {e.id for e in a}
    for eb in b:
        key = old_normalise(eb.inputs["ticket"])
        if eb.id in ids:
            found.add((eb.id, eb.id))
        if key in by_key:
            found.add((by_key[key].id, eb.id))
        sb = old_shingles(key)
        shared: dict[int, int] = defaultdict(int)
        for s in sb:
            for i in index.get(s, ()):
                shared[i] += 1
        for i, count in shared.items():
            union = len(a_sets[i]) + len(sb) - count
            if (count / union if union else 1.0) >= threshold:
                found.add((a[i].id, eb.id))
    return found


# --------------------------------------------------------------------------------------------------


def recall(found: set[tuple[str, str]], data: Splits, plants: list[tuple[str, str, str]]) -> dict[str, str]:
    """Per kind of planted pair: found / planted."""
    offset = len(data.train) - len(plants)
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for k, (kind, _, _) in enumerate(plants):
        pair = (data.train[offset + k].id, data.test[offset + k].id)
        hits[kind][0] += pair in found
        hits[kind][1] += 1
    return {kind: f"{h[0]}/{h[1]}" for kind, h in hits.items()}


def ngram_choice() -> list[str]:
    """Table rows: per n-gram size, how often one replaced word in a 6-10 word sentence stays at or
    above 0.5, and how often two different such sentences reach it (all on datasets/cr)."""
    rng = random.Random(1)
    sentences = []
    for split in ("train", "val", "test"):
        for line in (ROOT / "datasets" / "cr" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            text = normalise_all([json.loads(line)["text"]])[0]
            if 6 <= len(text.split()) <= 10:
                sentences.append(text)
    edits = []
    for text in sentences:
        words = text.split()
        i = rng.randrange(len(words))
        words[i] = rng.choice([w for w in VOCABULARY if w != words[i]])
        edits.append((text, " ".join(words)))
    others = [(a, b) for k, a in enumerate(sentences[:500]) for b in sentences[k + 1 : 500]]

    def similarity(a: str, b: str, n: int) -> float:
        grams_a, grams_b = ({f" {t} "[i : i + n] for i in range(len(t) + 3 - n)} for t in (a, b))
        return len(grams_a & grams_b) / len(grams_a | grams_b)

    rows = []
    for n in (3, 4, 5):
        caught = sum(similarity(a, b, n) >= DEFAULT_THRESHOLD for a, b in edits)
        flagged = sum(similarity(a, b, n) >= DEFAULT_THRESHOLD for a, b in others)
        rows.append(
            f"| {n} | {caught / len(edits):.3f} ({caught}/{len(edits)}) | {flagged} of {len(others):,} |"
        )
    return rows


def sketch_timings(size: int) -> list[tuple[str, float]]:
    """Seconds to sketch `size` train and `size` test tickets and query them: datasketch and numpy."""
    from datasketch import MinHash, MinHashLSH  # type: ignore[import-untyped]

    rng = random.Random(5)
    texts = normalise_all([ticket(rng) for _ in range(2 * size)])
    bands, rows = lsh_bands(DEFAULT_THRESHOLD)
    timings = []
    start = time.perf_counter()
    grams = [[g.encode() for g in shingles(t)] for t in texts]
    sketches = MinHash.bulk(grams, num_perm=bands * rows, seed=1, scheme="affine32")
    timings.append(("datasketch MinHash.bulk (4-gram sets made in Python)", time.perf_counter() - start))
    start = time.perf_counter()
    index = MinHashLSH(num_perm=bands * rows, params=(bands, rows))
    with index.insertion_session() as session:
        for i, sketch in enumerate(sketches[:size]):
            session.insert(i, sketch)
    for sketch in sketches[size:]:
        index.query(sketch)
    timings.append(("datasketch MinHashLSH insert + query", time.perf_counter() - start))
    start = time.perf_counter()
    minhash_signatures(texts, bands * rows)
    timings.append(("promptc.data.minhash.minhash_signatures (numpy)", time.perf_counter() - start))
    return timings


def without_rare_filter(size: int, plants: list[tuple[str, str, str]]) -> str:
    """What the rare-4-gram filter of the LSH bands costs in recall and saves in time, at one size."""
    data = splits(size, plants)
    start = time.perf_counter()
    default = {(leak.a.id, leak.b.id) for leak in check_splits(data).leaks}
    seconds = time.perf_counter() - start
    common_rows = leakage.COMMON_ROWS
    leakage.COMMON_ROWS = 2**32  # every 4-gram counts as rare: the bands see whole texts
    try:
        start = time.perf_counter()
        report = check_splits(data)
        reference_seconds = time.perf_counter() - start
    finally:
        leakage.COMMON_ROWS = common_rows
    reference = {(leak.a.id, leak.b.id): leak.similarity for leak in report.leaks}
    skipped = sorted(sim for pair, sim in reference.items() if pair not in default)
    spread = f", similarity {skipped[0]:.2f}-{skipped[-1]:.2f}" if skipped else ""
    return (
        f"{size:,} x {size:,}: default {seconds:.2f} s, {len(default)} pairs; bands over every 4-gram "
        f"{reference_seconds:.2f} s, {len(reference)} pairs; pairs only the latter found: {len(skipped)}"
        f"{spread}; found only by the default: {len(default - set(reference))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 100000])
    parser.add_argument("--old-sizes", type=int, nargs="*", default=[5000, 20000])
    parser.add_argument("--planted", type=int, default=20, help="pairs of each kind (at most 20)")
    parser.add_argument("--sketch-size", type=int, default=20000, help="rows per side for the sketch timings")
    parser.add_argument(
        "--filter-size",
        type=int,
        default=0,
        help="also compare with LSH bands over every 4-gram at this size",
    )
    args = parser.parse_args()
    plants = planted_pairs(random.Random(11), args.planted)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"planted pairs: {len(plants)} ({args.planted} of each of {len(plants) // args.planted} kinds)")
    print(f"threshold: new {DEFAULT_THRESHOLD} (character 4-gram Jaccard), old 0.85 (word-trigram Jaccard)\n")
    rows = []
    for size in sorted(set(args.sizes) | set(args.old_sizes)):
        data = splits(size, plants)
        for method in ("old", "new"):
            if size not in (args.old_sizes if method == "old" else args.sizes):
                continue
            start = time.perf_counter()
            if method == "old":
                found = old_check(data.train, data.test)
            else:
                report = check_splits(data)
                found = {(leak.a.id, leak.b.id) for leak in report.leaks if leak.b.id.startswith("B")}
            seconds = time.perf_counter() - start
            if method == "new":
                planted_ids = {e.id for e in data.train[len(data.train) - len(plants) :]}
                other_leaks = [leak for leak in report.leaks if leak.a.id not in planted_ids]
            hits = recall(found, data, plants)
            total = sum(int(h.split("/")[0]) for h in hits.values())
            rows.append((size, method, seconds, f"{total}/{len(plants)}", len(found) - total, hits))
            print(
                f"{size:>7} x {size:<7} {method}: {seconds:7.2f} s, planted found {total}/{len(plants)}",
                flush=True,
            )
    print("\n| rows (train x test) | method | seconds | planted found | other pairs reported |")
    print("|---|---|---:|---:|---:|")
    for size, method, seconds, planted_found, others, _ in rows:
        print(f"| {size:,} x {size:,} | {method} | {seconds:.2f} | {planted_found} | {others} |")
    bands, band_rows = lsh_bands(DEFAULT_THRESHOLD)
    print(
        f"\nSketching {args.sketch_size:,} + {args.sketch_size:,} tickets, {bands} bands of {band_rows} rows:"
    )
    print("\n| step | seconds |\n|---|---:|")
    for step, seconds in sketch_timings(args.sketch_size):
        print(f"| {step} | {seconds:.2f} |")
    print("\nOther pairs the new check reported at the largest size (first three):")
    for leak in other_leaks[:3]:
        print(f"- {leak.similarity:.2f}: {leak.a.inputs['ticket']!r} / {leak.b.inputs['ticket']!r}")
    print("\nn-gram size at threshold 0.5, on 6-10 word sentences of datasets/cr:")
    print("\n| n | one word replaced, still >= 0.5 | pairs of different sentences >= 0.5 |")
    print("|---:|---:|---:|")
    print("\n".join(ngram_choice()))
    if args.filter_size:
        print("\nThe rare-4-gram filter of the LSH bands:", without_rare_filter(args.filter_size, plants))
    kinds = list(rows[0][5])
    print("\n| rows | method | " + " | ".join(kinds) + " |")
    print("|---|---|" + "---:|" * len(kinds))
    for size, method, _, _, _, hits in rows:
        print(f"| {size:,} | {method} | " + " | ".join(hits[k] for k in kinds) + " |")


if __name__ == "__main__":
    main()
