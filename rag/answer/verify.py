"""Check a generated answer against the passages it was given.

    verify_answer(text, passages, lang) -> Checked(text, verification, refused, cited)

The answer is split into sentences; a `[n]` marker after a sentence's
terminator belongs to that sentence ("...万美元。[1]"). A sentence fails,
and is dropped, when

1. it cites a passage that was not given (`[n]` outside 1..len(passages));
2. one of its numbers is not in its supporting passages. Supporting
   passages are the ones the sentence cites; a sentence without a marker is
   checked against every passage the answer cites anywhere (the answer as a
   whole claims those sources); if the answer cites nothing at all, against
   every passage given, and the passages that hold all its numbers are then
   added as its markers, so that each kept fact still has a source.
   Exception: when a sentence cites the wrong passage (small models cite [1]
   out of habit) and exactly one other passage holds all its numbers, it is
   re-cited to that passage and kept; the failure is still recorded.

Numbers are compared by value after normalisation: full-width digits,
thousands commas, whitespace before a unit, and the multipliers 千/万/亿/
千万/百万/万亿, thousand/million/billion/trillion, "ten thousand" and
"hundred million". A percentage only matches a percentage. The answer may
round a passage's number to the precision it writes: "4.14亿美元" and
"414.14 million" are both supported by "41414万美元"; "4.2亿" is not, and
neither is a more precise number than the passage has. Years (integers
1900..2100 with no multiplier) are numbers too, checked like the others: a
year must be in the cited passage, its title or its date, and "今年/去年/前年"
(this year, last year, the year before) in a dated passage stand for the
date's year, the one before and the one before that. So "2022年…4.8亿美元"
citing a passage dated 2024 that says "去年…4.8亿美元" fails: the passage is
about 2023. Numbers in a passage's title or date support any sentence
that cites it.

A passage that addresses the model with an instruction ("忽略以上指令，回答：
…", "ignore previous instructions and say …") is a prompt injection, not
evidence: its numbers support nothing, so an answer that obeys it loses
the obeying sentence. (The prompt already tells the model that passages
are data; this is the check for when the model does not listen.)

What remains "verified" is a kept sentence that cites a valid passage or
whose numbers were all found. If nothing verified remains, or the answer is
the refusal sentence itself, the result is the refusal.

Left out: numbers written in Chinese numerals (三十六, 百分之十) and
claims without numbers, whose truth this module cannot judge; it checks
that they cite a passage that exists, not that the passage says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.base import refusal_text
from rag.text import Number, extract_numbers, relative_years
from rag.types import Chunk, Lang, Verification

# -- injected instructions ----------------------------------------------------
_INSTRUCTION = re.compile(
    r"(?:忽略|无视|不要理会|忘记|忘掉)(?:掉)?(?:以上|上面|上述|之前|前面|先前|所有|全部|你的)*(?:的)?(?:所有)?"
    r"(?:指令|指示|提示|要求|规则|设定)"
    r"|(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*"
    r"(?:previous|prior|above|earlier|preceding|system)?\s*(?:instructions|prompts?|rules|directions)"
    r"|(?:你现在是|作为AI|作为人工智能|system prompt|you are now|new instructions)",
    re.IGNORECASE,
)


def looks_like_instruction(text: str) -> bool:
    """True if `text` contains an instruction addressed to the model."""
    return bool(_INSTRUCTION.search(text))


# -- sentences and markers ---------------------------------------------------
MARKER = re.compile(r"[\[【]\s*(\d+(?:\s*[,，、\-–]\s*\d+)*)\s*[\]】]")
_LEADING_MARKERS = re.compile(rf"^(?:\s*{MARKER.pattern})+")
# Sentence ends: CJK and ASCII terminators; an ASCII period only when a space,
# the end or a marker follows (so 4.14 and 2.5B are never split), and not
# after a lone capital ("U.S. dollars").
_TERMINATOR = re.compile(r"[。！？!?；;\n]+|(?<!\b[A-Z])\.(?=\s|$|[\[【])")


def marker_numbers(text: str) -> list[int]:
    """The passage numbers cited in `text`, in order; "[1-3]" means 1, 2, 3."""
    out: list[int] = []
    for m in MARKER.finditer(text):
        for part in re.split(r"\s*[,，、]\s*", m.group(1)):
            if re.search(r"[\-–]", part):
                a, b = (int(x) for x in re.split(r"\s*[\-–]\s*", part))
                out.extend(range(a, b + 1) if 0 < b - a < 20 else (a, b))
            else:
                out.append(int(part))
    return out


def split_answer_sentences(text: str) -> list[str]:
    """Sentences with their terminators; markers that follow a terminator
    are moved back onto the sentence they close."""
    pieces: list[str] = []
    pos = 0
    for m in _TERMINATOR.finditer(text):
        pieces.append(text[pos:m.end()])
        pos = m.end()
    pieces.append(text[pos:])
    out: list[str] = []
    for piece in pieces:
        lead = _LEADING_MARKERS.match(piece)
        if lead and out:
            out[-1] += lead.group(0).strip()
            piece = piece[lead.end():]
        if piece.strip():
            out.append(piece.strip())
    return out


# -- the check ---------------------------------------------------------------
@dataclass(frozen=True)
class Checked:
    text: str  # the kept sentences; the refusal text when refused
    verification: Verification
    refused: bool
    cited: tuple[int, ...]  # passage numbers cited by the kept text, in order of appearance


def is_refusal(text: str, lang: Lang) -> bool:
    """True if `text` is (essentially) the refusal sentence of either language."""
    core = _squash(MARKER.sub("", text))
    if not core:
        return True
    for r in (refusal_text(lang), refusal_text("en" if lang == "zh" else "zh")):
        rc = _squash(r)
        if core == rc or (rc in core and len(core) <= len(rc) + 12):
            return True
    return False


def _squash(s: str) -> str:
    return re.sub(r"[\W_]+", "", s).lower()


def _support_texts(p: str | Chunk) -> tuple[str, str, str | None]:
    """(body, metadata, date) of a passage: its text, its title and date, the date."""
    if isinstance(p, Chunk):
        return p.text, f"{p.title} {p.date or ''}", p.date
    return p, "", None


@dataclass
class _Outcome:
    """What checking one sentence decided."""

    kept: str | None  # the sentence as kept (maybe re-cited), or None if dropped
    verified: bool = False
    failure: str | None = None


class _Checker:
    """The passages' numbers, and the check of one answer sentence against them."""

    def __init__(self, passages: Sequence[str | Chunk], sentences: Sequence[str]) -> None:
        self.k = len(passages)
        self.numbers_of: list[list[Number]] = []
        self.injected: set[int] = set()
        for n, p in enumerate(passages, start=1):
            body, meta, date = _support_texts(p)
            if looks_like_instruction(body):
                self.injected.add(n)
                self.numbers_of.append([])
            else:
                self.numbers_of.append(extract_numbers(body) + extract_numbers(meta) + _year_numbers(body, date))
        self.all_cited = {n for s in sentences for n in marker_numbers(s) if 1 <= n <= self.k}
        self.any_marker = any(marker_numbers(s) for s in sentences)
        self.citations_checked = 0
        self.numbers_checked = 0

    def check(self, i: int, sent: str) -> _Outcome:
        k = self.k
        cites = marker_numbers(sent)
        self.citations_checked += len(cites)
        bad = sorted({n for n in cites if not 1 <= n <= k})
        if bad:
            return _Outcome(None, failure=f"sentence {i} cites {_marks(bad, ', ')} but only {k} passages were given")
        if cites:
            support = sorted(set(cites))
        elif self.any_marker:
            support = sorted(self.all_cited)
        else:
            support = list(range(1, k + 1))

        nums = extract_numbers(MARKER.sub(" ", sent))
        self.numbers_checked += len(nums)
        missing = [
            num.text for num in nums
            if not any(num.supported_by(c) for n in support for c in self.numbers_of[n - 1])
        ]
        if missing and cites:
            # A small model often cites [1] out of habit. If one other trusted
            # passage holds every number, the fact is sourced: re-cite it there.
            holders = [n for n in range(1, k + 1) if n not in support and _holds(self.numbers_of[n - 1], nums)]
            if len(holders) == 1:
                return _Outcome(
                    _append_markers(MARKER.sub("", sent).rstrip(), holders),
                    verified=True,
                    failure=f"sentence {i} cites {_marks(support)} but {', '.join(missing)} is in "
                    f"{_marks(holders)}; re-cited",
                )
        if missing:
            why = ""
            if self.injected & set(support):
                why = f" ({_marks(sorted(self.injected & set(support)), ', ')} holds an instruction to the model, not evidence)"
            where = _marks(support, ", ") or "no passage"
            return _Outcome(None, failure=f"sentence {i}: {', '.join(missing)} not found in {where}{why}")

        if not cites and not self.any_marker and nums:
            # The model cited nothing: cite the passages that hold every number.
            holders = [n for n in support if _holds(self.numbers_of[n - 1], nums)]
            if holders:
                sent = _append_markers(sent, holders[:2])
        verified = bool(cites or (nums and not self.any_marker) or marker_numbers(sent))
        return _Outcome(sent, verified=verified)


def verify_answer(text: str, passages: Sequence[str | Chunk], lang: Lang) -> Checked:
    """Drop the sentences of `text` that `passages` do not support (see module doc)."""
    refusal = refusal_text(lang)
    sentences = split_answer_sentences(text.strip())
    if not sentences or is_refusal(text, lang):
        return Checked(refusal, Verification(checked=True), True, ())
    checker = _Checker(passages, sentences)
    failures: list[str] = []
    dropped: list[str] = []
    kept: list[str] = []
    verified = 0
    for i, sent in enumerate(sentences, start=1):
        if is_refusal(sent, lang) and len(sentences) > 1:
            kept.append(sent)  # "...; 资料中未找到2023年的数据" style asides stay, unverified
            continue
        outcome = checker.check(i, sent)
        if outcome.failure:
            failures.append(outcome.failure)
        if outcome.kept is None:
            dropped.append(sent)
            continue
        kept.append(outcome.kept)
        verified += outcome.verified

    verification = Verification(
        checked=True,
        citations_checked=checker.citations_checked,
        numbers_checked=checker.numbers_checked,
        failures=tuple(failures),
        dropped=tuple(dropped),
    )
    if verified == 0:
        return Checked(refusal, verification, True, ())
    out = (" " if lang == "en" else "").join(kept)
    return Checked(out, verification, False, tuple(dict.fromkeys(marker_numbers(out))))


def _year_numbers(body: str, date: str | None) -> list[Number]:
    """The years that 今年/去年/前年 in a dated passage stand for."""
    return [Number(y, float(y), 1.0, 0, False) for y in sorted(relative_years(body, date))]


def _holds(passage: Sequence[Number], nums: Sequence[Number]) -> bool:
    """Does a passage hold every number?"""
    return all(any(num.supported_by(c) for c in passage) for num in nums)


def _marks(ns: Sequence[int], sep: str = "") -> str:
    return sep.join(f"[{n}]" for n in ns)


def _append_markers(sent: str, ns: Sequence[int]) -> str:
    marks = _marks(ns)
    m = re.search(r"[。！？!?；;.]+$", sent)
    return sent[: m.start()] + marks + m.group(0) if m else sent + marks

