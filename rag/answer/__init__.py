"""Answering: retrieved `Hit`s -> a `Draft` with checked citations, or a refusal.

    base        the Answerer protocol, refusals, citations
    extractive  verbatim sentences, scored; no model
    generative  a chat model's answer, then verified
    verify      the checks on generated text: markers, numbers, injections
    condense    follow-up questions rewritten into standalone ones

Owns what is said and what it rests on. Leaves out retrieval (rag/retrieve),
the models themselves (rag/models) and the choice of answerer and its
fallback (rag/pipeline.py).
"""

from rag.answer.base import Answerer, make_citation, refusal, refusal_text

__all__ = ["Answerer", "make_citation", "refusal", "refusal_text"]
