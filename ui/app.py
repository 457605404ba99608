"""The chat page: a Gradio Blocks app over `rag.pipeline.Pipeline`.

    build_app(pipeline)  -> gr.Blocks (queued; not launched)
    launch(settings)     -> build the index with progress in the terminal,
                            then serve the page until interrupted
    serve(pipeline, ...) -> launch a built pipeline; `block=False` returns
                            the running app (tests, benchmarks)

The page calls the library and nothing else: no retrieval or answering
logic lives here. Each browser session has its own conversation in a
`gr.State` (`ChatSession`): the rendered messages, the `Turn`s passed to
the pipeline for follow-up questions, and the `Answer` behind each
assistant message, so the sources panel and the timings can be re-rendered
for any earlier answer. Nothing is kept in module globals.

Errors never reach the browser as tracebacks: a `RagError` (or an OS
error) becomes the same one-line message the CLI prints
(`rag.errors.user_message`), anything else a generic message (and a
logged traceback).

A status line under the title names the files that are not in the index
(with the reason) and says when the index is being refreshed because the
documents changed; it is updated on load and after every answer. The
refresh itself is the pipeline's policy (`Pipeline.check_documents`).
Logging in (with --username/--password) is rate-limited per client
(ui/auth.py).

The documents panel (collections, uploads, deletes; ui/documents.py) is
built and wired by `DocumentsPanel`; questions go to the collection it
shows, through one `Workspace` (a pipeline per collection, shared models).

Left out: per-user authentication beyond Gradio's single `auth` pair.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import gradio as gr

from rag.collections import Workspace
from rag.config import Settings
from rag.errors import ConfigError, RagError, user_message
from rag.serve import is_loopback
from rag.types import MODES, Answer, Turn
from ui import render
from ui.documents import DocumentsPanel

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

log = logging.getLogger(__name__)

EXAMPLES = (
    "2022年平湖实际外资是多少？",
    "平湖有多少家日资企业？",
    "津上精密2022年实现产值多少？",
    "How much actual FDI was there in 2022?",
    "How many Japanese-funded enterprises are there in Pinghu?",
)
ANSWERER_CHOICES = (
    ("Auto: the LLM when one is installed, else extractive", "auto"),
    ("Extractive: quotes the documents (no model)", "extractive"),
    ("LLM: generated, then verified", "llm"),
)
HEADER = (
    "## 平湖外资资料问答 · Document Q&A\n"
    "答案直接摘自资料，每个 [n] 对应右侧的出处；资料中没有的内容会如实说明。"
    " Answers quote the documents; each [n] points to a source on the right."
)
GENERIC_ERROR = "Something went wrong while answering; the error was logged. Please try again."
# Events served at once; more wait in the queue (FIFO) instead of failing.
DEFAULT_CONCURRENCY = 4
MAX_QUEUE = 64
TOP_K_MAX = 20  # the slider's range; Settings allows up to 50

Message = dict[str, str]


@dataclass
class ChatSession:
    """One browser session's conversation (lives in a `gr.State`)."""

    messages: list[Message] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    answers: dict[int, Answer] = field(default_factory=dict)  # message index -> Answer
    collections: dict[int, str] = field(default_factory=dict)  # message index -> collection asked

    def add(self, role: str, content: str) -> int:
        self.messages.append({"role": role, "content": content})
        return len(self.messages) - 1

    def set(self, i: int, content: str) -> None:
        self.messages[i] = {"role": self.messages[i]["role"], "content": content}

    def view(self) -> list[Message]:
        """A copy for the Chatbot, so streamed updates are diffed correctly."""
        return [dict(m) for m in self.messages]


class Handlers:
    """The page's event handlers: each turns the page's inputs into library
    calls and rendered outputs. Kept apart from the layout so they can be
    read (and tested) as plain functions."""

    def __init__(
        self, pipeline: Pipeline, workspace: Workspace | None = None,
        gate: AbstractContextManager[Any] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.workspace = workspace or Workspace(pipeline)
        # Under `rag serve` the API and the page share the pipelines; the
        # server's lock serialises both (the pipeline is not thread-safe).
        self.gate: AbstractContextManager[Any] = gate if gate is not None else contextlib.nullcontext()

    def respond(
        self,
        message: str, session: ChatSession, mode: str, k: float, answerer: str, show_timings: bool,
        collection: str | None = None,
    ) -> Iterator[tuple[Any, Any, Any, Any]]:
        text = (message or "").strip()
        if not text:  # an empty message is ignored
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        session.add("user", render.user_message(text))
        i = session.add("assistant", render.pending_message())
        yield "", session.view(), gr.skip(), session

        try:
            partial = ""
            with self.gate:
                answering = self.workspace.pipeline(collection).stream(
                    text, mode=mode, k=int(k), answerer=answerer, history=tuple(session.turns)
                )
                for delta in answering:
                    partial += delta
                    session.set(i, render.pending_message(partial))
                    yield gr.skip(), session.view(), gr.skip(), session
                final = answering.answer()
        except (RagError, OSError) as e:
            session.set(i, render.error_message(user_message(e)))
            yield gr.skip(), session.view(), gr.skip(), session
            return
        except Exception:
            log.exception("answering %r failed", text[:200])
            session.set(i, render.error_message(GENERIC_ERROR))
            yield gr.skip(), session.view(), gr.skip(), session
            return
        session.set(i, render.answer_message(final, show_timings=show_timings))
        session.answers[i] = final
        session.collections[i] = collection or self.pipeline.settings.collection
        session.turns.append(Turn(question=text, answer=final.text))
        yield gr.skip(), session.view(), self._panel(final, session.collections[i]), session

    def _panel(self, answer: Answer, collection: str) -> str:
        """The sources panel, with the cited pages of PDFs and scans drawn (issue 11)."""
        import base64

        images: dict[int, str] = {}
        for c in answer.citations[:3]:  # a few pages: each is drawn and sent inline
            try:
                jpeg = self.workspace.page_image(collection, c)
            except Exception:  # a page that cannot be drawn costs its image, not the answer
                log.warning("cannot draw page %s of %s", c.page, c.source, exc_info=True)
                jpeg = None
            if jpeg:
                images[c.n] = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
        return render.sources_panel(answer, images)

    def status(self) -> str:
        """The status line: skipped files, a refresh in progress ("" when all is well)."""
        # getattr: stand-in pipelines (tests, a remote client) may not track files.
        problems = getattr(self.pipeline, "problems", ())
        return render.status_banner(problems, getattr(self.pipeline, "refreshing", ()))

    def clear(self) -> tuple[str, list[Message], str, ChatSession]:
        return "", [], render.EMPTY_PANEL, ChatSession()

    def show_sources(self, session: ChatSession, evt: gr.SelectData) -> Any:
        i = evt.index if isinstance(evt.index, int) else None
        for j in (i, None if i is None else i + 1):  # a question shows its answer's sources
            if j is not None and j in session.answers:
                return self._panel(session.answers[j], session.collections.get(j, self.pipeline.settings.collection))
        return gr.skip()

    def toggle_timings(self, show: bool, session: ChatSession) -> tuple[list[Message], ChatSession]:
        for i, a in session.answers.items():
            session.set(i, render.answer_message(a, show_timings=show))
        return session.view(), session

    def choose_answerer(
        self, choice: str, session: ChatSession
    ) -> tuple[Any, list[Message], ChatSession]:
        if choice != "llm":
            return gr.skip(), session.view(), session
        available, why = self.pipeline.llm_status()
        if available:
            session.add("assistant", render.notice(f"LLM answerer selected: {why}"))
            return gr.skip(), session.view(), session
        session.add("assistant", render.notice(_llm_hint(why)))
        return "extractive", session.view(), session


def build_app(
    pipeline: Pipeline, *, concurrency: int = DEFAULT_CONCURRENCY, workspace: Workspace | None = None,
    gate: AbstractContextManager[Any] | None = None,
) -> gr.Blocks:
    """The chat page for `pipeline`, with queueing enabled. `rag serve` passes
    its own workspace and lock, so the page and the API share the pipelines."""
    settings = pipeline.settings
    h = Handlers(pipeline, workspace, gate)
    docs_panel = DocumentsPanel(h.workspace)
    with gr.Blocks(title="平湖外资资料问答 · Document Q&A", analytics_enabled=False) as app:
        session = gr.State(ChatSession())
        status = _header(h)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(
                    label="Chat",
                    elem_id="rag-chat",
                    height=560,
                    buttons=["copy", "copy_all"],
                    latex_delimiters=[],
                    feedback_options=None,
                    placeholder="问一个关于资料的问题 · Ask a question about the documents",
                )
                msg = gr.Textbox(
                    label="Question",
                    show_label=False,
                    placeholder="输入问题后按回车 · Type a question and press Enter",
                    elem_id="rag-input",
                    submit_btn=True,
                    max_lines=6,
                    autofocus=True,
                )
                with gr.Row():
                    clear_btn = gr.Button(
                        "清空对话 · Clear conversation", elem_id="rag-clear", size="sm"
                    )
                gr.Examples(
                    examples=[[q] for q in EXAMPLES], inputs=[msg], label="示例问题 · Examples"
                )
                mode, top_k, answerer, show_timings = _settings_panel(settings)
                docs_ui = docs_panel.layout()
            with gr.Column(scale=2, min_width=320):
                sources = gr.HTML(
                    render.EMPTY_PANEL,
                    label="Sources",
                    elem_id="rag-sources",
                    max_height=720,
                    js_on_load=None,
                )

        msg.submit(
            h.respond,
            inputs=[msg, session, mode, top_k, answerer, show_timings, docs_ui.collection],
            outputs=[msg, chatbot, sources, session],
            api_name="chat",
            show_progress="minimal",
        ).then(h.status, outputs=[status], api_visibility="private", queue=False)
        app.load(h.status, outputs=[status], api_visibility="private", queue=False)
        clear_btn.click(
            h.clear, outputs=[msg, chatbot, sources, session], api_name="clear", queue=False
        )
        chatbot.clear(
            h.clear, outputs=[msg, chatbot, sources, session], api_visibility="private", queue=False
        )
        chatbot.select(h.show_sources, inputs=[session], outputs=[sources], api_visibility="private")
        show_timings.input(
            h.toggle_timings,
            inputs=[show_timings, session],
            outputs=[chatbot, session],
            api_visibility="private",
        )
        answerer.input(
            h.choose_answerer,
            inputs=[answerer, session],
            outputs=[answerer, chatbot, session],
            api_visibility="private",
        )

        docs_panel.wire(docs_ui, app, chatbot, session)

    app.queue(default_concurrency_limit=concurrency, max_size=MAX_QUEUE)
    return app


def _header(h: Handlers) -> gr.HTML:
    """Title, intro and the status line (skipped files, refresh in progress)."""
    gr.HTML(value="", head=f"<style>{render.CSS}</style>", visible="hidden", js_on_load=None)
    gr.Markdown(HEADER)
    return gr.HTML(h.status(), elem_id="rag-status", js_on_load=None)


def _settings_panel(settings: Settings) -> tuple[gr.Radio, gr.Slider, gr.Radio, gr.Checkbox]:
    """The collapsed per-question settings: mode, top-k, answerer, timings."""
    with gr.Accordion("设置 · Settings", open=False, elem_id="rag-settings"):
        mode = gr.Radio(list(MODES), value=settings.mode, label="Retrieval mode")
        top_k = gr.Slider(
            1,
            TOP_K_MAX,
            value=min(settings.top_k, TOP_K_MAX),
            step=1,
            label="Passages to retrieve (top-k)",
        )
        answerer = gr.Radio(
            list(ANSWERER_CHOICES), value=settings.answerer, label="Answerer"
        )
        show_timings = gr.Checkbox(False, label="Show timings")
    return mode, top_k, answerer, show_timings



def _llm_hint(why: str) -> str:
    return f"The LLM answerer cannot be used: {why}. Using the extractive answerer instead."


# -- launching ---------------------------------------------------------------


def check_host(host: str, *, allow_remote: bool, auth: tuple[str, str] | None = None) -> str | None:
    """Refuse a non-loopback address unless remote access was asked for.

    Returns the warning to print when serving remotely, else None.
    """
    if auth is not None and (not auth[0] or not auth[1]):
        raise ConfigError("both a username and a password are needed for --username/--password")
    if is_loopback(host):
        return None
    if not allow_remote:
        raise ConfigError(
            f"host {host} is reachable from other machines; pass --allow-remote to serve on it"
        )
    return f"Warning: serving on {host}: anyone who can reach this machine can use the page" + (
        "." if auth else " (no username/password set)."
    )


class TerminalProgress:
    """`progress(stage, done, total)` for `ensure_index`, drawn on one line."""

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self.out = out
        self.stage: str | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.stage is not None and stage != self.stage:
            print(file=self.out)
        self.stage = stage
        print(f"\r{stage}: {done}/{total}", end="", file=self.out, flush=True)
        if total and done >= total:
            print(file=self.out, flush=True)
            self.stage = None


def serve(
    pipeline: Pipeline,
    *,
    host: str | None = None,
    port: int | None = None,
    allow_remote: bool = False,
    auth: tuple[str, str] | None = None,
    open_browser: bool = False,
    block: bool = True,
    quiet: bool = False,
) -> gr.Blocks:
    """Launch the page for an already-indexed pipeline (host and port default
    to its settings). With `block=False` it returns the running app; call
    `app.close()` to stop it."""
    host = host or pipeline.settings.host
    port = port or pipeline.settings.port
    warning = check_host(host, allow_remote=allow_remote, auth=auth)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    app = build_app(pipeline)
    from ui.auth import LoginLimiter, client_address_kwargs

    app.launch(
        server_name=host,
        server_port=port,
        auth=LoginLimiter(*auth) if auth else None,
        app_kwargs=client_address_kwargs() if auth else None,
        inbrowser=open_browser,
        prevent_thread_lock=not block,
        share=False,
        quiet=quiet,
        show_error=False,
        ssr_mode=False,
        mcp_server=False,
        theme=_theme(),
        css=render.CSS,
        # Uploads up to twice the limit reach rag.collections, which refuses
        # those over it with a message naming the file; Gradio refuses bigger
        # ones before they reach the disk, with its own message (issue 11).
        max_file_size=int(2 * pipeline.settings.max_upload_mb * 1024 * 1024),
    )
    return app


def launch(
    settings: Settings,
    *,
    allow_remote: bool = False,
    auth: tuple[str, str] | None = None,
    open_browser: bool = False,
) -> None:
    """Build or load the index (progress in the terminal), then serve the page
    until interrupted. A non-loopback host needs `allow_remote=True`."""
    from rag.pipeline import Pipeline

    check_host(settings.host, allow_remote=allow_remote, auth=auth)  # fail before indexing
    pipeline = Pipeline(settings)
    t0 = time.perf_counter()
    print("Loading the index…", file=sys.stderr, flush=True)
    pipeline.ensure_index(progress=TerminalProgress())
    print(f"Index ready in {time.perf_counter() - t0:.1f} s.", file=sys.stderr, flush=True)
    app = serve(
        pipeline, allow_remote=allow_remote, auth=auth, open_browser=open_browser, block=False
    )
    # The page is up; now load the models, so the first question need not
    # wait for them (one asked meanwhile waits: the embedder loads under a lock).
    warm_up(pipeline)
    app.block_thread()


def warm_up(pipeline: Pipeline) -> None:
    """Load the models now, so the first visitor does not wait for them."""
    try:
        pipeline.ask(EXAMPLES[0])
    except Exception:  # a failure here shows again, in the chat, on first use
        log.warning("warm-up question failed", exc_info=True)


def _theme() -> gr.themes.Base:
    # Local fonts only: the default theme fetches Google Fonts, and the page
    # must work offline.
    return gr.themes.Default(
        font=["system-ui", "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    )
