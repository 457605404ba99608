"""The OpenAI chat-completions format, as far as this server speaks it.

    ChatRequest.parse(data)      the request body -> question, history, model, stream
    completion(answer, model)    an Answer -> a `chat.completion` body
    chunk(...)                   one `chat.completion.chunk` of a stream

The answer text keeps its `[n]` markers; the sources are in an extra
`citations` field (`protocol.citation_extra`) on the message and on the
response, and on the last chunk of a stream, together with `rag` (the
final, verified text, whether it was refused, which answerer answered,
notices). Earlier user/assistant pairs in `messages` become `Turn`s, so a
follow-up ("那2021年呢？") is rewritten with its context by the pipeline.

Left out: tools, function calls, `n > 1`, logprobs, token counts (usage
is reported as zeros: the extractive answerer has no tokens).
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.errors import InputError
from rag.serve.protocol import citation_extra
from rag.types import Answer, Turn


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The content's text; parts other than text are not supported."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


class ChatRequest(BaseModel):
    # Sampling options (temperature, max_tokens, ...) are accepted and
    # ignored: answers are quoted or checked, not sampled.
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    messages: list[Message]
    stream: bool = False

    @classmethod
    def parse(cls, data: Any) -> ChatRequest:
        try:
            req = cls.model_validate(data)
        except ValidationError as e:
            raise InputError(validation_message(e)) from None
        if not req.messages:
            raise InputError("'messages' is empty: send at least one user message")
        if req.messages[-1].role != "user":
            raise InputError("the last message must come from the user (the question)")
        return req

    @property
    def question(self) -> str:
        return self.messages[-1].text()

    def history(self) -> tuple[Turn, ...]:
        """Earlier (user, assistant) pairs, in order; system messages are ignored."""
        turns: list[Turn] = []
        pending: str | None = None
        for m in self.messages[:-1]:
            if m.role == "user":
                pending = m.text()
            elif m.role == "assistant" and pending is not None:
                turns.append(Turn(question=pending, answer=m.text()))
                pending = None
        return tuple(turns)


def validation_message(e: ValidationError) -> str:
    """One line naming the first bad field, e.g. "messages.0.role: Input should be ..."."""
    err = e.errors()[0]
    where = ".".join(str(x) for x in err.get("loc", ())) or "body"
    return f"invalid request: {where}: {err.get('msg', 'invalid value')}"


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def rag_extra(answer: Answer) -> dict[str, Any]:
    """The `rag` field: what the OpenAI format has no place for."""
    return {
        "answer": answer.text, "refused": answer.refused, "answerer": answer.answerer,
        "lang": answer.lang, "notice": answer.notice, "rewritten_question": answer.rewritten_question,
        "verification": answer.verification.to_dict() if answer.verification else None,
    }


def completion(answer: Answer, model: str) -> dict[str, Any]:
    citations = [citation_extra(c) for c in answer.citations]
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": answer.text, "citations": citations},
            "finish_reason": "stop",
            "logprobs": None,
        }],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": citations,
        "rag": rag_extra(answer),
    }


def chunk(
    cid: str, model: str, created: int, delta: dict[str, Any], *,
    finish: str | None = None, answer: Answer | None = None,
) -> dict[str, Any]:
    """One streamed chunk; the last one (`answer` given) carries the extras."""
    body: dict[str, Any] = {
        "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    if answer is not None:
        body["citations"] = [citation_extra(c) for c in answer.citations]
        body["rag"] = rag_extra(answer)
    return body


def models_list(names: list[str]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": "rag"} for n in names],
    }
