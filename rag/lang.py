"""Which language a question is in: Chinese if it contains CJK ideographs.

Only zh and en are distinguished; that is what the refusal message and the
answer language need. Mixed questions ("FDI 2022年") count as Chinese.
"""

from __future__ import annotations

import re

from rag.types import Lang

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_lang(text: str) -> Lang:
    return "zh" if _CJK.search(text) else "en"
