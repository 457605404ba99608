"""Milvus as the vector store, and its BM25: Milvus Lite (a local .db file)
or a Milvus server. The only module that imports pymilvus (lazily).

    RAG_VECTOR_STORE=milvus:./index/milvus.db          Milvus Lite
    RAG_VECTOR_STORE=milvus+http://host:19530          a server (token: RAG_MILVUS_TOKEN)

One collection per index build, named `<namespace>_<time>`; the namespace
(`rag_` + a hash of the index folder) is also the name of an alias that
points at the live build. Fields: row (primary key = the chunk's row in
chunks.jsonl), chunk_id, source, start/end (offsets in the original file),
text, words (the chunk's jieba words, see below), vector, and `sparse`,
which Milvus's BM25 function fills from `words`.

Atomic builds: `create` writes and indexes the new collection; the build
folder records it (milvus.json); `activate` repoints the alias right
before CURRENT switches. A crash before that leaves the old alias and the
old build answering; the orphaned collection is dropped by the next
`activate` (which keeps the live and the previous collection, so a process
still serving the previous build is not cut off).

Loading checks that the collection exists, has this module's schema and
row count, and that the alias names it; otherwise IndexNotReadyError
(a rebuild recovers). An unreachable server is StoreError. Neither is ever
answered by falling back to FAISS or with an empty result.

BM25 on our words: Milvus's analyzers know only the "standard" and its own
"jieba" tokenizers, so the words of rag/index/lexicon.py (domain
dictionary, stop words, search-mode sub-words) are stored as opaque ASCII
terms (`t` + 16 hex digits of a BLAKE2b hash of the word; the standard
tokenizer keeps such a run whole) joined by spaces, and queries are
encoded the same way. Milvus computes the same Okapi formula (k1 1.2,
b 0.75, Lucene idf): on the seeds its scores equal bm25s's to 2e-7
(float32) and rank the same (tests/index/test_milvus.py).

Dense index: FLAT (exact) up to `approx_above` rows, IVF_FLAT beyond, with
the FAISS store's threshold, lists and probes (rag/index/vectors/faiss.py).

Left out: partitions, sharding, replicas and index types other than
FLAT/IVF_FLAT (a server's concerns; docs/scale.md), updating a
collection in place (each build writes a new one).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexNotReadyError, MissingExtraError, StoreError
from rag.index import bm25
from rag.index.vectors.base import LexicalIndex, Rows, normalized
from rag.index.vectors.faiss import DEFAULT_APPROX_ABOVE, ivf_lists, ivf_probes

FILE = "milvus.json"
INSTALL = 'pip install -e ".[milvus]"'
# 3: words field (with a match index) + BM25 function. 4: index parameters sent so that
# Milvus Lite applies them (BM25 k1/b, IVF lists; see _index_params). Recorded in
# milvus.json; a collection written by another version of this module is rebuilt, not misread.
SCHEMA_VERSION = 4
# Rows per insert: well under the 64 MB gRPC message limit at 1024 dims.
_BATCH = 2000
# VARCHAR limits, in bytes: a chunk is at most a few thousand characters;
# the words field holds 18 bytes per word.
_TEXT_MAX = 65535
_SOURCE_MAX = 1024
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _pymilvus() -> Any:
    try:
        import pymilvus
    except ImportError:
        raise MissingExtraError("pymilvus", INSTALL, "RAG_VECTOR_STORE names Milvus") from None
    # pymilvus logs every failed call with a traceback at ERROR level; we
    # turn each failure into one RagError line, so its own log is noise.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    return pymilvus


def _term(word: str) -> str:
    """A jieba word as an ASCII term Milvus's standard analyzer keeps whole."""
    return "t" + hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def terms(words: Sequence[str]) -> str:
    return " ".join(_term(w) for w in words)


def _is_missing(e: Exception) -> bool:
    """Milvus says a collection or alias does not exist (code 100)."""
    return getattr(e, "code", None) == 100 or "not exist" in str(e) or "not found" in str(e)


@contextlib.contextmanager
def _calls(uri: str, collection: str) -> Iterator[None]:
    """Milvus failures as the project's errors, in one line."""
    pm = _pymilvus()
    try:
        yield
    except pm.MilvusException as e:
        msg = str(getattr(e, "message", "") or e).splitlines()[0][:200]
        if _is_missing(e):
            raise IndexNotReadyError(
                f"the Milvus collection {collection} at {uri} is missing ({msg}); run: rag index"
            ) from None
        raise StoreError(f"Milvus at {uri} failed ({msg}); check RAG_VECTOR_STORE") from None


def _client(uri: str) -> Any:
    """One client per URI and process (Milvus Lite allows one owner per file)."""
    from rag.config import milvus_token

    pm = _pymilvus()
    with _clients_lock:
        if uri not in _clients:
            if uri.endswith(".db"):
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            try:
                _clients[uri] = pm.MilvusClient(uri=uri, token=milvus_token() or "", timeout=10)
            except pm.MilvusException as e:
                msg = str(getattr(e, "message", "") or e).splitlines()[0][:200]
                raise StoreError(f"cannot reach Milvus at {uri} ({msg}); check RAG_VECTOR_STORE") from None
        return _clients[uri]


def forget_clients() -> None:
    """Close every cached client (tests; a server that went away and came back)."""
    with _clients_lock:
        for c in _clients.values():
            with contextlib.suppress(Exception):
                c.close()
        _clients.clear()


def _index_params(params: dict[str, Any]) -> dict[str, Any]:
    """Index build parameters in the form every Milvus reads: the wire's
    `params` key holding them as JSON. pymilvus 3 otherwise sends each as
    its own key, which a server reads but Milvus Lite 3.2 ignores (it then
    built BM25 with k1 1.5 and IVF with 128 lists: found by describing the
    index, tests/index/test_milvus.py)."""
    return {"params": params}


def _schema(pm: Any, client: Any, dim: int) -> Any:
    dt = pm.DataType
    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("row", dt.INT64, is_primary=True)
    s.add_field("chunk_id", dt.VARCHAR, max_length=64)
    s.add_field("source", dt.VARCHAR, max_length=_SOURCE_MAX)
    s.add_field("start", dt.INT64)
    s.add_field("end", dt.INT64)
    s.add_field("text", dt.VARCHAR, max_length=_TEXT_MAX)
    # enable_match: an inverted index of the terms, for document frequencies (idf).
    s.add_field("words", dt.VARCHAR, max_length=_TEXT_MAX, enable_analyzer=True, enable_match=True,
                analyzer_params={"tokenizer": "standard"})
    s.add_field("vector", dt.FLOAT_VECTOR, dim=dim)
    s.add_field("sparse", dt.SPARSE_FLOAT_VECTOR)
    s.add_function(pm.Function(name="bm25", function_type=pm.FunctionType.BM25,
                               input_field_names=["words"], output_field_names=["sparse"]))
    return s


# Field name -> type name, as describe_collection reports them: the schema check on load.
EXPECTED_FIELDS = {
    "row": "INT64", "chunk_id": "VARCHAR", "source": "VARCHAR", "start": "INT64", "end": "INT64",
    "text": "VARCHAR", "words": "VARCHAR", "vector": "FLOAT_VECTOR", "sparse": "SPARSE_FLOAT_VECTOR",
}


@dataclass(frozen=True)
class MilvusStore:
    """A Milvus deployment: Lite (uri = an absolute .db path) or a server URL."""

    uri: str
    # Rows above which the dense field gets an IVF_FLAT index instead of FLAT:
    # the FAISS store's rule and parameters (rag/index/vectors/faiss.py), so
    # both stores are exact on the seeds and approximate alike at scale.
    approx_above: int | None = DEFAULT_APPROX_ABOVE

    @classmethod
    def from_spec(cls, spec: str, approx_above: int | None = DEFAULT_APPROX_ABOVE) -> MilvusStore:
        if spec.startswith("milvus+"):
            return cls(spec[len("milvus+"):], approx_above)
        return cls(spec[len("milvus:"):], approx_above)

    def create(self, rows: Rows, namespace: str) -> MilvusVectors:
        """Write the rows into a new collection (not yet live)."""
        pm = _pymilvus()
        client = _client(self.uri)
        m = normalized(rows.matrix)
        name = f"{namespace}_{time.time_ns()}"
        with _calls(self.uri, name):
            ip = client.prepare_index_params()
            if self.approx_above is not None and m.shape[0] > self.approx_above:
                ip.add_index(field_name="vector", index_type="IVF_FLAT", metric_type="IP",
                             params=_index_params({"nlist": ivf_lists(m.shape[0])}))
            else:
                ip.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
            ip.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params=_index_params({"bm25_k1": bm25.K1, "bm25_b": bm25.B}))
            client.create_collection(name, schema=_schema(pm, client, m.shape[1]), index_params=ip)
        store = MilvusVectors(client, self.uri, name, namespace, m.shape[1], m.shape[0])
        try:
            with _calls(self.uri, name):
                for s in range(0, len(rows.chunks), _BATCH):
                    client.insert(name, _records(rows, m, s, s + _BATCH))
                client.flush(name)
        except BaseException:
            store.discard()
            raise
        return store

    def load(self, folder: Path) -> MilvusVectors:
        try:
            rec = json.loads((folder / FILE).read_text(encoding="utf-8"))
            name, alias, dim, count = str(rec["collection"]), str(rec["alias"]), int(rec["dim"]), int(rec["count"])
            version = rec["schema"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"cannot read {folder / FILE} ({e})") from e
        if version != SCHEMA_VERSION:
            raise IndexNotReadyError(f"the Milvus collection {name} has schema {version}, this version writes "
                                     f"{SCHEMA_VERSION}; run: rag index")
        store = MilvusVectors(_client(self.uri), self.uri, name, alias, dim, count)
        store.check()
        store.load_into_memory()
        return store


def _records(rows: Rows, m: np.ndarray, start: int, stop: int) -> list[dict[str, Any]]:
    out = []
    for i in range(start, min(stop, len(rows.chunks))):
        c = rows.chunks[i]
        out.append({
            "row": i, "chunk_id": c.id, "source": c.source, "start": c.orig_start, "end": c.orig_end,
            "text": c.text, "words": terms(rows.words[i]), "vector": m[i],
        })
    return out


class MilvusVectors:
    name = "milvus"

    def __init__(self, client: Any, uri: str, collection: str, alias: str, dim: int, count: int) -> None:
        self._client = client
        self.uri = uri
        self.collection = collection
        self.alias = alias
        self._dim = dim
        self._count = count

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return self._count

    def load_into_memory(self) -> None:
        """Make the collection searchable. A collection is "released" when the
        process that made it is gone (Milvus Lite, on opening its file again)
        or after a server restart; loading an already loaded one is a no-op."""
        with _calls(self.uri, self.collection):
            self._client.load_collection(self.collection)

    def check(self) -> None:
        """The collection exists with this module's schema and row count, and the alias names it."""
        c, name = self._client, self.collection
        with _calls(self.uri, name):
            if not c.has_collection(name):
                raise IndexNotReadyError(f"the Milvus collection {name} at {self.uri} is missing; run: rag index")
            desc = c.describe_collection(name)
            fields = {f["name"]: getattr(f["type"], "name", str(f["type"])) for f in desc["fields"]}
            dims = [int(f.get("params", {}).get("dim", 0)) for f in desc["fields"] if f["name"] == "vector"]
            rows = int(c.get_collection_stats(name)["row_count"])
            target = self._alias_target()
        if fields != EXPECTED_FIELDS or dims != [self._dim]:
            got = ", ".join(f"{k}:{v}" for k, v in sorted(fields.items()))
            raise IndexNotReadyError(
                f"the Milvus collection {name} does not have the expected schema (it has {got}; "
                f"dim {dims}); run: rag index --rebuild"
            )
        if rows != self._count:
            raise IndexNotReadyError(f"the Milvus collection {name} holds {rows} rows, the index {self._count}; "
                                     "run: rag index")
        if target != name:
            raise IndexNotReadyError(
                f"the Milvus alias {self.alias} names {target}, not this index's collection {name} "
                "(a build was interrupted); run: rag index"
            )

    def _alias_target(self) -> str | None:
        pm = _pymilvus()
        try:
            return str(self._client.describe_alias(self.alias)["collection_name"])
        except pm.MilvusException as e:
            if _is_missing(e):
                return None
            raise

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self._count == 0 or k < 1:
            return []
        q = normalized(query)[0]
        with _calls(self.uri, self.collection):
            res = self._client.search(self.collection, data=[q.tolist()], anns_field="vector",
                                      limit=min(k, self._count), output_fields=["row"],
                                      search_params={"metric_type": "IP",
                                                     # used by IVF_FLAT, ignored by FLAT
                                                     "params": {"nprobe": ivf_probes(ivf_lists(self._count))}})
        return _ranked(res, sign=1.0)

    def vectors(self) -> np.ndarray:
        """Every row's vector, in row order (for reuse by the next build)."""
        out = np.zeros((self._count, self._dim), dtype=np.float32)
        with _calls(self.uri, self.collection):
            it = self._client.query_iterator(self.collection, batch_size=_BATCH, filter="",
                                             output_fields=["row", "vector"])
            try:
                while batch := it.next():
                    for r in batch:
                        out[int(r["row"])] = r["vector"]
            finally:
                it.close()
        return out

    def save(self, folder: Path) -> list[str]:
        rec = {"uri": self.uri, "collection": self.collection, "alias": self.alias, "dim": self._dim,
               "count": self._count, "schema": SCHEMA_VERSION}
        (folder / FILE).write_text(json.dumps(rec, ensure_ascii=False), encoding="utf-8")
        return [FILE]

    def activate(self) -> None:
        """Point the alias at this collection; drop collections older than the previous one."""
        c = self._client
        with _calls(self.uri, self.collection):
            previous = self._alias_target()
            if previous is None:
                c.create_alias(self.collection, self.alias)
            else:
                c.alter_alias(self.collection, self.alias)
            keep = {self.collection, previous}
            for name in c.list_collections():
                if name.startswith(self.alias + "_") and name not in keep:
                    c.drop_collection(name)

    def discard(self) -> None:
        """Drop this build's collection unless the alias already names it (best effort)."""
        with contextlib.suppress(Exception):
            if self._alias_target() != self.collection:
                self._client.drop_collection(self.collection)

    def lexical(self) -> LexicalIndex:
        return MilvusBM25(self)


class MilvusBM25:
    """BM25 by Milvus over the encoded words of the same collection."""

    def __init__(self, store: MilvusVectors) -> None:
        self._s = store
        self._idf: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def n_docs(self) -> int:
        return len(self._s)

    def idf(self, term: str) -> float:
        """Lucene idf from the count of rows matching the term (cached: a round trip each)."""
        from rag.index.bm25 import lucene_idf

        with self._lock:
            if term not in self._idf:
                s = self._s
                with _calls(s.uri, s.collection):
                    res = s._client.query(s.collection, filter=f"TEXT_MATCH(words, '{_term(term)}')",
                                          output_fields=["count(*)"])
                self._idf[term] = lucene_idf(len(s), int(res[0]["count(*)"]))
            return self._idf[term]

    def top(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        s = self._s
        if not query or k < 1 or len(s) == 0:
            return []
        with _calls(s.uri, s.collection):
            res = s._client.search(s.collection, data=[terms(query)], anns_field="sparse",
                                   limit=min(k, len(s)), output_fields=["row"],
                                   search_params={"metric_type": "BM25"})
        # Milvus Lite reports BM25 as a negated distance, a server as a
        # positive score; BM25 scores are never negative, so abs() is both.
        return _ranked(res, sign=None)


def _ranked(res: Any, sign: float | None) -> list[tuple[int, float]]:
    hits = [(int(h["entity"]["row"]), float(h["distance"])) for h in res[0]]
    if sign is None:
        hits = [(i, abs(d)) for i, d in hits]
    # Milvus orders ties arbitrarily; by row, like FAISS and bm25s.
    return sorted(hits, key=lambda x: (-x[1], x[0]))
