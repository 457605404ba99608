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

from rag.answerer import refusal_text
from rag.types import Chunk, Lang, Verification

# -- numbers -----------------------------------------------------------------
_FULLWIDTH = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "．": ".", "％": "%"})

# Longest spellings first, so that "千万" wins over "千" and "万".
_MULTIPLIERS: dict[str, float] = {
    "万亿": 1e12, "千万": 1e7, "百万": 1e6, "亿": 1e8, "万": 1e4, "千": 1e3,
    "hundred million": 1e8, "ten thousand": 1e4,
    "trillion": 1e12, "billion": 1e9, "million": 1e6, "thousand": 1e3,
    "bn": 1e9, "mn": 1e6,
}
_PERCENT = ("%", "percent", "per cent")
_UNIT = "|".join(re.escape(u) for u in sorted([*_MULTIPLIERS, *_PERCENT], key=len, reverse=True))
_NUMBER = re.compile(
    rf"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)(?:\s*({_UNIT})(?![A-Za-z]))?",
    re.IGNORECASE,
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# A full-width comma is a thousands separator only between full-width digits
# ("４１，４１４"); elsewhere it is the Chinese comma ("45.6%，57.5%").
_FW_THOUSANDS = re.compile(r"(?<=[０-９])，(?=[０-９]{3}(?![０-９]))")



@dataclass(frozen=True)
class Number:
    """A number as written: `mantissa` x `scale`, with `decimals` digits after the point."""

    text: str
    mantissa: float
    scale: float
    decimals: int
    percent: bool

    @property
    def value(self) -> float:
        return self.mantissa * self.scale

    def supported_by(self, other: Number) -> bool:
        """True if `other` (from a passage) rounds to this number at its precision."""
        if self.percent != other.percent:
            return False
        tol = 0.5 * 10.0 ** (-self.decimals) + 1e-9
        return abs(other.value / self.scale - self.mantissa) <= tol


def normalise(text: str) -> str:
    """Full-width digits to ASCII, thousands commas removed."""
    return _THOUSANDS.sub("", _FW_THOUSANDS.sub("", text).translate(_FULLWIDTH))


def extract_numbers(text: str) -> list[Number]:
    out: list[Number] = []
    for m in _NUMBER.finditer(normalise(text)):
        digits, unit = m.group(1), (m.group(2) or "").lower()
        unit = re.sub(r"\s+", " ", unit)
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        out.append(Number(
            text=re.sub(r"\s+", " ", m.group(0).strip()),
            mantissa=float(digits),
            scale=_MULTIPLIERS.get(unit, 1.0),
            decimals=decimals,
            percent=unit in _PERCENT,
        ))
    return out


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


def split_sentences(text: str) -> list[str]:
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


def _support_texts(p: str | Chunk) -> tuple[str, str]:
    """(body, metadata) of a passage: its text, and its title and date."""
    if isinstance(p, Chunk):
        return p.text, f"{p.title} {p.date or ''}"
    return p, ""


def verify_answer(
    text: str, passages: Sequence[str | Chunk], lang: Lang
) -> Checked:
    """Drop the sentences of `text` that `passages` do not support (see module doc)."""
    refusal = refusal_text(lang)
    k = len(passages)
    sentences = split_sentences(text.strip())
    if not sentences or is_refusal(text, lang):
        return Checked(refusal, Verification(checked=True), True, ())

    numbers_of: list[list[Number]] = []
    injected: set[int] = set()
    for n, p in enumerate(passages, start=1):
        body, meta = _support_texts(p)
        if looks_like_instruction(body):
            injected.add(n)
            numbers_of.append([])
        else:
            numbers_of.append(extract_numbers(body) + extract_numbers(meta) + _relative_years(body, meta))

    all_cited = {n for s in sentences for n in marker_numbers(s) if 1 <= n <= k}
    any_marker = any(marker_numbers(s) for s in sentences)

    failures: list[str] = []
    dropped: list[str] = []
    kept: list[str] = []
    verified = 0
    citations_checked = numbers_checked = 0

    for i, sent in enumerate(sentences, start=1):
        if is_refusal(sent, lang) and len(sentences) > 1:
            kept.append(sent)  # "...; 资料中未找到2023年的数据" style asides stay, unverified
            continue
        cites = marker_numbers(sent)
        citations_checked += len(cites)
        bad = sorted({n for n in cites if not 1 <= n <= k})
        if bad:
            failures.append(
                f"sentence {i} cites {', '.join(f'[{n}]' for n in bad)} but only {k} passages were given"
            )
            dropped.append(sent)
            continue
        if cites:
            support = sorted(set(cites))
        elif any_marker:
            support = sorted(all_cited)
        else:
            support = list(range(1, k + 1))

        nums = extract_numbers(MARKER.sub(" ", sent))
        numbers_checked += len(nums)
        missing: list[str] = []
        for num in nums:
            if not any(num.supported_by(c) for n in support for c in numbers_of[n - 1]):
                missing.append(num.text)
        if missing and cites:
            # A small model often cites [1] out of habit. If one other trusted
            # passage holds every number, the fact is sourced: re-cite it there.
            holders = [n for n in range(1, k + 1) if n not in support and _holds(numbers_of[n - 1], nums)]
            if len(holders) == 1:
                failures.append(
                    f"sentence {i} cites {_marks(support)} but {', '.join(missing)} is in {_marks(holders)}; re-cited"
                )
                sent = MARKER.sub("", sent)
                sent = _append_markers(sent.rstrip(), holders)
                kept.append(sent)
                verified += 1
                continue
        if missing:
            where = ", ".join(f"[{n}]" for n in support) or "no passage"
            why = ""
            if injected & set(support):
                bad_ps = ", ".join(f"[{n}]" for n in sorted(injected & set(support)))
                why = f" ({bad_ps} holds an instruction to the model, not evidence)"
            failures.append(f"sentence {i}: {', '.join(missing)} not found in {where}{why}")
            dropped.append(sent)
            continue

        if not cites and not any_marker and nums:
            # The model cited nothing: cite the passages that hold every number.
            holders = [n for n in support if _holds(numbers_of[n - 1], nums)]
            if holders:
                sent = _append_markers(sent, holders[:2])
        if cites or (nums and not any_marker) or marker_numbers(sent):
            verified += 1
        kept.append(sent)

    verification = Verification(
        checked=True,
        citations_checked=citations_checked,
        numbers_checked=numbers_checked,
        failures=tuple(failures),
        dropped=tuple(dropped),
    )
    if verified == 0:
        return Checked(refusal, verification, True, ())
    out = (" " if lang == "en" else "").join(kept)
    cited: list[int] = []
    for n in marker_numbers(out):
        if n not in cited:
            cited.append(n)
    return Checked(out, verification, False, tuple(cited))


_RELATIVE_YEARS = {"今年": 0, "本年": 0, "this year": 0, "去年": 1, "上年": 1, "last year": 1, "前年": 2}


def _relative_years(body: str, meta: str) -> list[Number]:
    """The years that 今年/去年/前年 in a dated passage stand for."""
    m = re.search(r"(?:19|20)\d{2}(?=-\d{2}-\d{2})", meta)
    if not m:
        return []
    year = int(m.group(0))
    back = {v for k, v in _RELATIVE_YEARS.items() if k in body.lower()}
    return [Number(str(year - b), float(year - b), 1.0, 0, False) for b in sorted(back)]


def _holds(passage: Sequence[Number], nums: Sequence[Number]) -> bool:
    """Does a passage hold every number?"""
    return all(any(num.supported_by(c) for c in passage) for num in nums)


def _marks(ns: Sequence[int]) -> str:
    return "".join(f"[{n}]" for n in ns)


def _append_markers(sent: str, ns: Sequence[int]) -> str:
    marks = _marks(ns)
    m = re.search(r"[。！？!?；;.]+$", sent)
    return sent[: m.start()] + marks + m.group(0) if m else sent + marks

