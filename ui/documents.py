"""The documents panel of the chat page: choose or create a collection,
upload files (drag and drop, several at once, a stated size limit) with a
progress bar per file, list documents (type, pages, chunks, status) and
delete them. Questions go to the chosen collection.

    panel = DocumentsPanel(workspace)          # handlers (plain methods)
    ui = panel.layout()                        # components, inside gr.Blocks
    panel.wire(ui, chatbot, session)           # events

Every change goes through rag.collections (no file is touched here); the
HTML comes from the pure functions at the bottom, which escape every
file name and message. Uploads run in a worker thread and the handler
yields the progress rows as they change.

Left out: renaming documents or collections, deleting whole collections.
"""

from __future__ import annotations

import html
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from rag.collections import (
    ChangeReport,
    DocumentInfo,
    Progress,
    Workspace,
    add_files,
    collection_names,
    create_collection,
    list_documents,
    remove_files,
)
from rag.config import DEFAULT_COLLECTION, check_collection_name
from rag.errors import RagError
from rag.ingest.readers import SUFFIXES

if TYPE_CHECKING:
    from ui.app import ChatSession

_REFRESH_S = 0.3  # how often the progress rows are redrawn while a file is read


@dataclass
class DocumentsUI:
    collection: gr.Dropdown
    new_name: gr.Textbox
    create: gr.Button
    upload: gr.File
    progress: gr.HTML
    documents: gr.HTML
    to_delete: gr.Dropdown
    delete: gr.Button


class DocumentsPanel:
    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace

    @property
    def limit_mb(self) -> float:
        return self.ws.settings.max_upload_mb

    # -- handlers ---------------------------------------------------------
    def refresh(self, collection: str) -> tuple[str, Any]:
        """The document list and the delete choices of a collection."""
        docs = list_documents(self.ws.settings, collection)
        return documents_table(docs, read_only=collection == DEFAULT_COLLECTION), gr.update(
            choices=[d.name for d in docs], value=None
        )

    def on_load(self, collection: str) -> tuple[Any, str, Any]:
        """On page load: collections made elsewhere (CLI) appear in the choice."""
        table, choices = self.refresh(collection)
        return gr.update(choices=[*dict.fromkeys([*collection_names(self.ws.settings), collection])]), table, choices

    def choose(self, collection: str, session: ChatSession) -> tuple[Any, ...]:
        from ui import render

        table, choices = self.refresh(collection)
        session.turns.clear()  # follow-ups do not cross collections
        session.add("assistant", render.notice(f"Now asking collection “{collection}”. · 现在提问的资料库：{collection}"))
        writable = collection != DEFAULT_COLLECTION
        return table, choices, gr.update(interactive=writable), "", session.view(), session

    def create(self, name: str) -> tuple[Any, str]:
        """Make a collection and select it (then `choose` runs); a bad name is an error toast."""
        name = (name or "").strip()
        try:
            check_collection_name(name)
        except RagError as e:
            raise gr.Error(str(e)) from None
        create_collection(self.ws.settings, name)
        return gr.update(choices=collection_names(self.ws.settings), value=name), ""

    def upload(self, files: Sequence[str] | None, collection: str) -> Iterator[tuple[Any, Any, Any, Any]]:
        """Add the uploaded files, yielding a progress row per file until done."""
        paths = [Path(f) for f in files or []]
        if not paths:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        names = [p.name for p in paths]
        rows: dict[str, Progress] = {n: Progress(n, "waiting", 0.0) for n in names}
        events: queue.Queue[Progress] = queue.Queue()
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                pipeline = self.ws.pipeline(collection)
                result["report"] = add_files(pipeline, paths, names=names, progress=events.put)
            except RagError as e:
                result["error"] = str(e)
            except Exception as e:  # noqa: BLE001 - shown as one line; logged by gradio
                result["error"] = f"the upload failed ({type(e).__name__})"

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        yield upload_rows(list(rows.values())), gr.skip(), gr.skip(), gr.skip()
        while worker.is_alive() or not events.empty():
            changed = False
            deadline = time.monotonic() + _REFRESH_S
            while time.monotonic() < deadline:
                try:
                    e = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                rows[_row_key(rows, e.name)] = e
                changed = True
            if changed:
                yield upload_rows(list(rows.values())), gr.skip(), gr.skip(), gr.skip()
        report: ChangeReport | None = result.get("report")
        final = upload_rows(_final_rows(rows, report), error=result.get("error"))
        table, choices = self.refresh(collection)
        yield final, table, choices, None

    def delete(self, name: str | None, collection: str) -> tuple[str, str, Any]:
        if not name:
            table, choices = self.refresh(collection)
            return message_html("Choose a document to delete.", error=True), table, choices
        try:
            report = remove_files(self.ws.pipeline(collection), [name])
        except RagError as e:
            table, choices = self.refresh(collection)
            return message_html(str(e), error=True), table, choices
        table, choices = self.refresh(collection)
        f = report.files[0]
        if f.action == "rejected":
            return message_html(f"{f.name}: {f.reason}", error=True), table, choices
        return message_html(f"Deleted {f.name}. · 已删除"), table, choices

    # -- layout -------------------------------------------------------------
    def layout(self) -> DocumentsUI:
        s = self.ws.settings
        names = collection_names(s)
        if s.collection not in names:
            names.append(s.collection)
        with gr.Accordion("资料库 · Documents", open=False, elem_id="rag-docs"):
            with gr.Row():
                collection = gr.Dropdown(names, value=s.collection, label="Collection · 资料库", elem_id="rag-collection", scale=2)
                new_name = gr.Textbox(label="New collection · 新建资料库", placeholder="name", elem_id="rag-new-collection", scale=2)
                create = gr.Button("Create · 新建", elem_id="rag-create", size="sm", scale=1)
            upload = gr.File(
                label=f"Upload · 上传 ({', '.join(SUFFIXES)}; up to {self.limit_mb:g} MB each)",
                file_count="multiple", file_types=list(SUFFIXES), elem_id="rag-upload",
                interactive=s.collection != DEFAULT_COLLECTION, height=120,
            )
            progress = gr.HTML("", elem_id="rag-progress", js_on_load=None)
            documents = gr.HTML("", elem_id="rag-documents", js_on_load=None)
            with gr.Row():
                to_delete = gr.Dropdown([], label="Document · 文档", elem_id="rag-delete-choice", scale=3)
                delete = gr.Button("Delete · 删除", elem_id="rag-delete", variant="stop", size="sm", scale=1)
        return DocumentsUI(collection, new_name, create, upload, progress, documents, to_delete, delete)

    def wire(self, ui: DocumentsUI, app: gr.Blocks, chatbot: gr.Chatbot, session: gr.State) -> None:
        private: dict[str, Any] = {"api_visibility": "private"}
        app.load(self.on_load, inputs=[ui.collection], outputs=[ui.collection, ui.documents, ui.to_delete], **private)
        ui.collection.input(
            self.choose, inputs=[ui.collection, session],
            outputs=[ui.documents, ui.to_delete, ui.upload, ui.progress, chatbot, session], **private,
        )
        ui.create.click(self.create, inputs=[ui.new_name], outputs=[ui.collection, ui.new_name], **private).success(
            self.choose, inputs=[ui.collection, session],
            outputs=[ui.documents, ui.to_delete, ui.upload, ui.progress, chatbot, session], **private,
        )
        ui.upload.upload(
            self.upload, inputs=[ui.upload, ui.collection],
            outputs=[ui.progress, ui.documents, ui.to_delete, ui.upload], show_progress="hidden", **private,
        )
        ui.delete.click(self.delete, inputs=[ui.to_delete, ui.collection],
                        outputs=[ui.progress, ui.documents, ui.to_delete], **private)


def _row_key(rows: dict[str, Progress], name: str) -> str:
    """Progress events carry the stored (sanitised) name; rows are keyed by
    the uploaded name. Match the stored name to its row."""
    if name in rows:
        return name
    from rag.collections import safe_name

    for key in rows:
        try:
            if safe_name(key) == name:
                return key
        except RagError:
            continue
    return name


def _final_rows(rows: dict[str, Progress], report: ChangeReport | None) -> list[Progress]:
    """The last state of each row, from the report (a file may have been renamed)."""
    if report is None:
        return list(rows.values())
    by_given = {(f.given or f.name): f for f in report.files}
    out = []
    for key, row in rows.items():
        f = by_given.get(key)
        if f is None:
            out.append(row)
        elif f.action == "rejected":
            out.append(Progress(key, "rejected", 1.0, f.reason or ""))
        else:
            label = key if f.name == key else f"{key} → {f.name}"
            out.append(Progress(label, "done", 1.0, row.detail if row.stage == "done" else f.action))
    return out


# -- HTML (pure; every name and message escaped) ------------------------------
_STAGE = {"waiting": "waiting · 等待", "reading": "reading · 读取", "indexing": "indexing · 索引",
          "done": "indexed · 已索引", "rejected": "skipped · 未收录"}


def upload_rows(rows: Sequence[Progress], error: str | None = None) -> str:
    out = ['<div class="rag-upload">']
    for r in rows:
        cls = "rag-status-skipped" if r.stage == "rejected" else ""
        value = f'{r.fraction:.2f}' if r.stage != "rejected" else "1"
        out.append(
            f'<div class="rag-upload-row" data-stage="{html.escape(r.stage)}">'
            f'<span class="rag-file">{html.escape(r.name)}</span>'
            f'<progress max="1" value="{value}"></progress>'
            f'<span class="{cls}">{html.escape(_STAGE.get(r.stage, r.stage))}'
            + (f": {html.escape(r.detail)}" if r.detail else "") + "</span></div>"
        )
    if error:
        out.append(f'<div class="rag-error">⚠️ {html.escape(error)}</div>')
    out.append("</div>")
    return "".join(out)


def message_html(text: str, *, error: bool = False) -> str:
    return f'<div class="{"rag-error" if error else "rag-notice"}">{html.escape(text)}</div>'


def documents_table(docs: Sequence[DocumentInfo], *, read_only: bool = False) -> str:
    note = (
        '<p class="rag-meta">The default collection is the project\'s seeds folder: it cannot be changed here. '
        "Create a collection to upload your own documents. · 默认资料库不可修改；请新建资料库后上传。</p>"
        if read_only else ""
    )
    if not docs:
        return note + '<p class="rag-meta">No documents yet. · 暂无文档。</p>'
    rows = []
    for d in docs:
        status = d.status + (f": {d.reason}" if d.reason else "")
        cls = "rag-status-skipped" if d.status == "skipped" else ""
        rows.append(
            f"<tr><td class=\"rag-file\">{html.escape(d.name)}</td><td>{html.escape(d.kind)}</td>"
            f"<td>{d.pages if d.pages is not None else '–'}</td><td>{d.chunks if d.chunks is not None else '–'}</td>"
            f'<td class="{cls}">{html.escape(status)}</td></tr>'
        )
    return (note + '<table class="rag-docs-table"><thead><tr><th>file</th><th>type</th><th>pages</th>'
            "<th>chunks</th><th>status</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
