"""Follow-up questions rewritten into standalone ones.

    condense_rule_based("那2021年呢？", [Turn("2022年平湖实际外资是多少？", ...)])
        -> "2021年平湖实际外资是多少？"
    condense_with_llm(chat_model, question, history)   # falls back to the rules

The rules (general, no lexicon of the corpus):

1. A question is a *fragment* when it starts with a follow-up word (那/那么/
   还有/另外/and/what about/how about), ends with 呢, or is very short (at
   most 6 CJK characters, or 3 English words). Anything else is returned
   unchanged: it is already standalone.
2. The previous question is itself condensed first, so chains work
   ("2022年…是多少？" -> "那2021年呢？" -> "2020年呢？").
3. The fragment's years replace the previous question's years (or are put
   in front of it when it had none).
4. What is left of the fragment replaces the element of the previous
   question it most resembles:
   - Chinese is head-final, so a phrase sharing its last characters with a
     part of the previous question replaces that part: "合同外资" replaces
     "实际外资", "日资企业" replaces "外资企业".
   - A place or organisation (ending in 市/县/区/镇/公司/集团...) replaces
     the one in the previous question.
   - Any other Chinese phrase replaces the attribute in "…的<attribute>是多少"
     ("利润总额呢" after "…企业的营业收入是多少？").
   - English: a capitalised name replaces the previous question's
     capitalised name ("What about Jiashan?"); acronyms like FDI are not names.
   - Otherwise the fragment is appended to the previous question, which
     keeps the retrieval terms of both.

Left out: pronoun resolution ("它的利润呢"), Chinese numerals for years,
and anything needing world knowledge; the LLM rewriter handles those when a
chat model is configured.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.prompts import ChatPromptTemplate

from rag.text import CJK as _CJK
from rag.types import Turn

log = logging.getLogger(__name__)

_ZH_LEAD = re.compile(r"^(?:那么|那|还有|另外|然后|再问一下|再问|那个)[，,、\s]*")
_ZH_TAIL = re.compile(r"(?:的情况|的数据|的)?(?:呢|怎么样|如何|又如何|又是多少|是多少|多少)?[？?。!！\s]*$")
_EN_LEAD = re.compile(r"^(?:and\s+)?(?:what|how)\s+about\s+|^and\s+(?:in\s+|for\s+)?|^what\s+of\s+", re.I)
_EN_TAIL = re.compile(r"[?？.!\s]*$")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)(?:\s*年(?:度)?)?")
_PLACE_SUFFIX = "市|县|区|镇|乡|省|州|村|港|园区|开发区|新区|公司|集团|银行|大学|医院"
_PLACE = re.compile(rf"[{_CJK}]{{1,8}}?(?:{_PLACE_SUFFIX})(?![{_CJK}]*?(?:{_PLACE_SUFFIX}))")
_ATTRIBUTE = re.compile(rf"的([{_CJK}]{{2,8}}?)(?:是多少|有多少|为多少|是什么|有哪些|多少|如何|怎么样)")
_EN_QWORDS = {"what", "how", "which", "who", "when", "where", "why", "is", "are", "was", "were", "did", "do", "does", "in", "the"}


def is_fragment(question: str) -> bool:
    q = question.strip()
    if _ZH_LEAD.match(q) and re.search(f"[{_CJK}]", q):
        return True
    if _EN_LEAD.match(q):
        return True
    if re.search(r"呢[？?]?\s*$", q):
        return True
    cjk = re.findall(f"[{_CJK}]", q)
    if cjk:
        return len(cjk) + len(re.findall(r"\d", q)) // 4 <= 6
    return len(q.split()) <= 3


def condense_rule_based(question: str, history: Sequence[Turn]) -> str:
    """A standalone version of `question`, using the earlier questions."""
    q = question.strip()
    if not history:
        return q
    prev = history[0].question.strip()
    for turn in history[1:]:
        prev = _condense_pair(turn.question.strip(), prev)
    return _condense_pair(q, prev)


def _condense_pair(q: str, prev: str) -> str:
    if not prev or not is_fragment(q):
        return q
    zh = bool(re.search(f"[{_CJK}]", q + prev))
    core = _EN_TAIL.sub("", _EN_LEAD.sub("", _ZH_TAIL.sub("", _ZH_LEAD.sub("", q))))
    years = [_year_digits(m.group(0)) for m in _YEAR.finditer(core)]
    rest = _YEAR.sub(" ", core)
    rest = re.sub(r"^[\s的在于，,、]+|[\s的，,、]+$", "", rest)
    rest = re.sub(r"^(?:in|for|the)\s+", "", rest, flags=re.I).strip()

    out = prev
    if years:
        out = _replace_years(out, years, zh)
    if rest:
        out = _replace_element(out, rest, zh)
    return out


def _year_digits(s: str) -> str:
    return re.match(r"\d{4}", s).group(0)  # type: ignore[union-attr]


def _replace_years(prev: str, years: list[str], zh: bool) -> str:
    found = list(_YEAR.finditer(prev))
    if not found:
        if zh:
            return f"{years[0]}年{prev}"
        return re.sub(r"[?？]\s*$", "", prev) + f" in {years[0]}?"
    parts: list[str] = []
    pos = 0
    for i, m in enumerate(found):
        new = years[min(i, len(years) - 1)]
        parts.append(prev[pos:m.start()])
        parts.append(new + m.group(0)[4:])
        pos = m.end()
    parts.append(prev[pos:])
    return "".join(parts)


def _replace_element(prev: str, rest: str, zh: bool) -> str:
    if re.search(f"[{_CJK}]", rest):
        # Head-final: a shared ending marks the element that changes.
        for n in range(min(len(rest), 4), 0, -1):
            tail = rest[-n:]
            if not re.fullmatch(f"[{_CJK}]+", tail):
                continue
            idx = prev.find(tail)
            if idx >= 0 and rest not in prev:
                start = _phrase_start(prev, idx, len(rest) - n)
                return prev[:start] + rest + prev[idx + n:]
        if _PLACE.fullmatch(rest):
            m = _PLACE.search(_YEAR.sub(lambda y: " " * len(y.group(0)), prev))
            if m:
                return prev[: m.start()] + rest + prev[m.end():]
        else:
            # "X的<attribute>是多少": a new attribute replaces the old one.
            m = _ATTRIBUTE.search(prev)
            if m:
                return prev[: m.start(1)] + rest + prev[m.end(1):]
    elif rest[:1].isupper():
        names = [m for m in re.finditer(r"\b[A-Z][a-z][A-Za-z\-]*(?:\s+[A-Z][a-z][A-Za-z\-]*)*", prev)
                 if m.group(0).split()[0].lower() not in _EN_QWORDS]
        if names:
            m = names[0]
            return prev[: m.start()] + rest + prev[m.end():]
    if rest in prev:
        return prev
    q = re.sub(r"[?？。]\s*$", "", prev)
    return f"{q}，{rest}？" if zh else f"{q}, {rest}?"


def _phrase_start(prev: str, idx: int, modifier_len: int) -> int:
    """Where the modifier in front of a shared head starts: as many CJK
    characters back as the new phrase has in front of its head, stopping
    at anything else (digits, 年, punctuation)."""
    start = idx
    while start > 0 and idx - start < modifier_len and re.match(f"[{_CJK}]", prev[start - 1]) and prev[start - 1] != "年":
        start -= 1
    return start


# -- with a chat model -------------------------------------------------------
CONDENSE_PROMPT = ChatPromptTemplate.from_messages([
    ("system",
     "You rewrite a follow-up question into one standalone question, in the same "
     "language as the follow-up. Keep the subject, place, company and year of the "
     "earlier questions unless the follow-up changes them. Output only the rewritten "
     "question, nothing else. 只输出改写后的问题。"),
    ("human", "Earlier questions:\n{history}\n\nFollow-up: {question}\nStandalone question:"),
])


def condense_with_llm(chat_model: BaseChatModel, question: str, history: Sequence[Turn]) -> str:
    """Ask the chat model for a standalone question; on any error or an
    implausible output (empty, far too long, or missing a year the
    follow-up names), return the rule-based rewrite."""
    fallback = condense_rule_based(question, history)
    if not history:
        return fallback
    lines = "\n".join(f"- {t.question.strip()}" for t in history[-3:])
    try:
        msg = chat_model.invoke(CONDENSE_PROMPT.format_messages(history=lines, question=question.strip()))
        text = msg.text
    except Exception as e:  # noqa: BLE001 - any backend failure falls back to the rules
        log.warning("condense with the chat model failed (%s); using the rules", e)
        return fallback
    out = _clean(text)
    if not out or len(out) > max(3 * len(fallback), 80):
        return fallback
    # A rewrite that loses a year the follow-up names is wrong, whatever else it says.
    if any(_year_digits(m.group(0)) not in out for m in _YEAR.finditer(question)):
        return fallback
    return out


def _clean(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    out = re.sub(r"^(?:standalone question|rewritten question|问题|改写后的问题)\s*[:：]\s*", "", lines[0], flags=re.I)
    return out.strip().strip("\"'“”「」")
