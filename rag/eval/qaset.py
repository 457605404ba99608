"""The evaluation set: load a QA file, validate it, check it against the corpus.

A QA file is JSON Lines, one question per line (format and authoring rules
in evals/README.md):

    {"id": "q001", "question": "...", "lang": "zh", "type": "numeric",
     "answers": ["41414万美元", "41414"], "source": "000_....txt",
     "evidence": "2022年实际外资（部口径）达到41414万美元", "note": "optional"}

Three levels of checking, from cheap to thorough:

- `load_qa` / `parse_qa`: the file parses and every line has the exact
  field set, valid enums and the list/multi_doc/unanswerable rules. The
  eval runner needs only this.
- `check_against_corpus`: every evidence quote is in the cleaned text of
  its source file, and every answer is in its evidence or source (this is
  what keeps the set honest when ingest or the seeds change).
- `check_coverage`: the team's set is big and varied enough.

Text comparisons go through `normalize` (NFKC, whitespace removed, case
folded), the same function the metrics use. Nothing here knows any
question or answer; the set lives in evals/, never in code.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.text import detect_lang
from rag.types import Lang

TYPES: tuple[str, ...] = (
    "numeric",
    "entity",
    "list",
    "yes_no",
    "temporal",
    "multi_doc",
    "comparison",
    "paraphrase",
    "unanswerable",
)
LANGS: tuple[str, ...] = ("zh", "en")
REQUIRED_FIELDS = frozenset({"id", "question", "lang", "type", "answers", "source", "evidence"})
OPTIONAL_FIELDS = frozenset({"note"})
# Evidence quotes are short enough to pin one fact and long enough to be
# unambiguous in the corpus; measured in normalized characters.
EVIDENCE_MIN_CHARS = 15
EVIDENCE_MAX_CHARS = 80

# What the team's set must cover (evals/README.md). Not applied to other
# QA files given to `rag eval --qa`.
MIN_ITEMS = 80
MIN_PER_LANG: Mapping[str, int] = {"zh": 50, "en": 20}
MIN_UNANSWERABLE = 10


def normalize(text: str) -> str:
    """The comparison form of a text: NFKC, no whitespace, case folded.

    NFKC makes full-width and half-width forms equal ("，" == ",",
    "２０２２" == "2022"), so answers do not depend on OCR punctuation.
    """
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


@dataclass(frozen=True)
class QAItem:
    """One question of the set. `sources` and `evidence` are parallel tuples
    (one pair for most types, several for multi_doc, none for unanswerable)."""

    id: str
    question: str
    lang: Lang
    type: str
    answers: tuple[str, ...]
    sources: tuple[str, ...]
    evidence: tuple[str, ...]
    note: str | None = None

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"

    def to_dict(self) -> dict[str, Any]:
        """The item in the file's format."""
        multi = self.type == "multi_doc"
        d: dict[str, Any] = {
            "id": self.id,
            "question": self.question,
            "lang": self.lang,
            "type": self.type,
            "answers": list(self.answers),
            "source": list(self.sources) if multi else (self.sources[0] if self.sources else None),
            "evidence": (
                list(self.evidence) if multi or len(self.evidence) > 1
                else (self.evidence[0] if self.evidence else None)
            ),
        }
        if self.note is not None:
            d["note"] = self.note
        return d


# ------------------------------------------------------------------ parsing
def parse_item(obj: Any) -> tuple[QAItem | None, list[str]]:
    """Validate one decoded line; return the item or the problems found."""
    if not isinstance(obj, dict):
        return None, ["not a JSON object"]
    problems: list[str] = []
    keys = set(obj)
    missing = sorted(REQUIRED_FIELDS - keys)
    extra = sorted(keys - REQUIRED_FIELDS - OPTIONAL_FIELDS)
    if missing:
        problems.append(f"missing field(s): {', '.join(missing)}")
    if extra:
        problems.append(f"unknown field(s): {', '.join(extra)}")
    if missing:
        return None, problems

    for name in ("id", "question"):
        if not isinstance(obj[name], str) or not obj[name].strip():
            problems.append(f"{name} must be a non-empty string")
    if "note" in obj and obj["note"] is not None and not isinstance(obj["note"], str):
        problems.append("note must be a string")
    lang, typ = obj["lang"], obj["type"]
    if lang not in LANGS:
        problems.append(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    elif isinstance(obj["question"], str) and obj["question"].strip():
        detected = detect_lang(obj["question"])
        if detected != lang:
            problems.append(f"lang is {lang!r} but the question reads as {detected!r}")
    if typ not in TYPES:
        problems.append(f"type must be one of {', '.join(TYPES)}, got {typ!r}")

    answers = obj["answers"]
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        problems.append("answers must be a list of non-empty strings")
        answers = []
    elif len({normalize(a) for a in answers}) != len(answers):
        problems.append("answers contains duplicates")

    sources, quotes = _sources_and_evidence(typ, answers, obj["source"], obj["evidence"], problems)
    if problems:
        return None, problems
    return (
        QAItem(
            id=obj["id"],
            question=obj["question"],
            lang=lang,
            type=typ,
            answers=tuple(answers),
            sources=sources,
            evidence=quotes,
            note=obj.get("note"),
        ),
        [],
    )


def _sources_and_evidence(
    typ: str, answers: list[str], source: Any, evidence: Any, problems: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The parallel (sources, evidence quotes) of an item; problems appended.

    Evidence is one quote or a list of quotes for any type; for multi_doc
    one quote per source, in the same order; for one source, every quote
    is from it.
    """
    if typ == "unanswerable":
        if answers:
            problems.append("an unanswerable item must have answers: []")
        if source is not None or evidence is not None:
            problems.append("an unanswerable item must have source and evidence null")
        return (), ()
    if typ not in TYPES:
        return (), ()
    if not answers:
        problems.append("an answerable item needs at least one answer")
    if typ == "list" and len(answers) < 2:
        problems.append("a list item needs at least two required elements in answers")
    quotes: list[str] = [evidence] if isinstance(evidence, str) and evidence.strip() else (
        list(evidence) if _str_list(evidence) else []
    )
    sources: tuple[str, ...] = ()
    if typ == "multi_doc":
        if not (_str_list(source) and quotes):
            problems.append("a multi_doc item needs source and evidence as lists of strings")
        elif len(source) != len(quotes):
            problems.append("a multi_doc item needs one evidence quote per source (same order)")
        elif len(set(source)) < 2:
            problems.append("a multi_doc item needs at least two different sources")
        else:
            sources = tuple(source)
    elif not (isinstance(source, str) and source.strip()):
        problems.append("source must be a file name (a string)")
    elif not quotes:
        problems.append("evidence must be a quote or a list of quotes")
    else:
        sources = (source,) * len(quotes)
    if not sources:
        return (), ()
    for q in quotes:
        n = len(normalize(q))
        if not EVIDENCE_MIN_CHARS <= n <= EVIDENCE_MAX_CHARS:
            problems.append(
                f"evidence must be {EVIDENCE_MIN_CHARS}-{EVIDENCE_MAX_CHARS} characters "
                f"(whitespace not counted), got {n}: {q[:30]!r}"
            )
    return sources, tuple(quotes)


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, str) and x.strip() for x in v)


def parse_qa(lines: Iterable[str]) -> tuple[list[QAItem], list[str]]:
    """Parse JSONL text lines; problems are "line N: ..." strings.

    Blank lines are skipped. Ids must be unique across the file.
    """
    items: list[QAItem] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {lineno}: not valid JSON ({e.msg} at column {e.colno})")
            continue
        item, errs = parse_item(obj)
        problems.extend(f"line {lineno}: {e}" for e in errs)
        if item is None:
            continue
        if item.id in seen:
            problems.append(f"line {lineno}: duplicate id {item.id!r} (first on line {seen[item.id]})")
            continue
        seen[item.id] = lineno
        items.append(item)
    if not items and not problems:
        problems.append("the file has no questions")
    return items, problems


def load_qa(path: Path) -> list[QAItem]:
    """Read and validate a QA file; any problem raises `InputError` (one line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"QA file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"QA file {path} cannot be read: {e}") from None
    items, problems = parse_qa(text.splitlines())
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise InputError(f"QA file {path}: {problems[0]}{more}")
    return items


# ------------------------------------------------------- corpus and coverage
def corpus_texts(docs_dir: Path) -> dict[str, str]:
    """Cleaned text of every source file (its articles joined), by file name."""
    from rag.ingest import load_corpus

    docs, _problems = load_corpus(docs_dir)
    by_source: dict[str, list[str]] = {}
    for d in sorted(docs, key=lambda d: (d.source, d.article)):
        by_source.setdefault(d.source, []).append(d.text)
    return {s: "\n".join(parts) for s, parts in by_source.items()}


def check_against_corpus(items: Sequence[QAItem], texts: Mapping[str, str]) -> list[str]:
    """Evidence in its source's cleaned text; answers in evidence or source.

    For list items every element must be found; for the other types at
    least one alternative. Comparisons are on `normalize`d text.
    """
    norm = {s: normalize(t) for s, t in texts.items()}
    problems: list[str] = []
    for item in items:
        for src, quote in zip(item.sources, item.evidence, strict=True):
            if src not in norm:
                problems.append(f"{item.id}: source {src!r} is not a file of the corpus")
            elif normalize(quote) not in norm[src]:
                problems.append(f"{item.id}: evidence {quote[:30]!r} is not in the cleaned text of {src}")
        if not item.answerable:
            continue
        haystacks = [normalize(q) for q in item.evidence] + [norm[s] for s in item.sources if s in norm]

        def found(answer: str, haystacks: list[str] = haystacks) -> bool:
            a = normalize(answer)
            return any(a in h for h in haystacks)

        if item.type == "list":
            missing = [a for a in item.answers if not found(a)]
            if missing:
                problems.append(f"{item.id}: list element(s) {missing} not in the evidence or source")
        elif not any(found(a) for a in item.answers):
            problems.append(f"{item.id}: no answer of {list(item.answers)} is in the evidence or source")
    return problems


def check_coverage(
    items: Sequence[QAItem],
    *,
    min_items: int = MIN_ITEMS,
    min_per_lang: Mapping[str, int] = MIN_PER_LANG,
    min_unanswerable: int = MIN_UNANSWERABLE,
) -> list[str]:
    """Is the set big and varied enough? Returns the shortfalls."""
    problems: list[str] = []
    if len(items) < min_items:
        problems.append(f"{len(items)} items; at least {min_items} are needed")
    langs: Counter[str] = Counter(i.lang for i in items)
    for lang, n in min_per_lang.items():
        if langs[lang] < n:
            problems.append(f"{langs[lang]} {lang} items; at least {n} are needed")
    types = Counter(i.type for i in items)
    if types["unanswerable"] < min_unanswerable:
        problems.append(f"{types['unanswerable']} unanswerable items; at least {min_unanswerable} are needed")
    absent = [t for t in TYPES if not types[t]]
    if absent:
        problems.append(f"no item of type(s): {', '.join(absent)}")
    return problems
