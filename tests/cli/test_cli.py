"""The `rag` command line: exit codes, output and option handling.

Fast: every command runs with the fake embedder (`--model fake` or
RAG_EMBED_MODEL=fake) over a tmp folder of two small Chinese documents and
a tmp index folder. Most tests drive `rag.cli.cli` through click's
CliRunner; error paths go through `rag.cli.main` (the console script's
entry point, the only place a RagError becomes an exit code), and a few
run the installed `rag` script in a real subprocess.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import EXIT_SKIPPED, cli, main
from rag.config import REFUSAL_ZH

pytestmark = pytest.mark.unit

A_TXT = (
    "平湖外资报告\n\n"
    "2022年平湖实际外资（部口径）达到41414万美元，同比增长10%，总量位居嘉兴市前列。"
    "截至2022年底，全市共有外资企业512家，其中世界500强企业投资项目45个。"
    "2022年全市新批外资项目86个，合同外资达到12亿美元。"
    "日资企业是平湖外资的重要组成部分，全市共有日资企业114家，被誉为日资高地。"
    "德资企业近年来增长较快，已有德资企业30余家落户平湖。"
    "平湖经济技术开发区是外资集聚的主要平台，区内外资企业超过300家。\n"
    "在招商方式上，平湖坚持以商引商，组织招商小分队赴上海、深圳等地开展精准招商活动。"
    "全年共举办各类招商推介会20余场，签约项目总投资超过300亿元。"
    "平湖还建立了重大项目全程代办服务机制，项目从签约到开工平均用时缩短至90天。\n"
)
B_TXT = (
    "平湖产业发展\n\n"
    "2023年平湖规上工业总产值突破2000亿元，同比增长8%。"
    "全市形成了光机电、新能源、航空航天三大产业链。"
    "光机电产业链共有规上企业260家，产值达到900亿元。"
    "新能源产业链近年来发展迅速，引进了多个百亿级项目。"
    "航空航天产业链以通航飞机制造为龙头，带动上下游企业集聚发展。"
    "平湖还大力发展数字经济，数字经济核心产业增加值增长15%。\n"
    "在科技创新方面，全市高新技术企业数量达到500家，研发投入占地区生产总值比重提高到3.2%。"
    "平湖积极推进传统产业改造提升，服装、箱包、童车等传统产业加快向智能制造转型。"
    "下一步，平湖将继续聚焦主导产业，推动产业链上下游协同发展，打造先进制造业基地。\n"
)
# Bytes no text encoding explains (GBK and Latin-1 files are read since issue 11).
BINARY = bytes(range(256)) * 4
METADATA = """\
[[file]]
name = "a.txt"
title = "平湖外资报告"
date = "2023-03-01"
"""

QUESTION = "2022年平湖实际外资是多少？"
CITATION_KEYS = {
    "n", "source", "article", "title", "date", "page", "start", "end",
    "passage", "quote", "quote_start", "quote_end", "chunk_id",
}
ANSWER_KEYS = {
    "question", "rewritten_question", "answer", "refused", "lang", "answerer", "mode",
    "citations", "hits", "timings_ms", "verification", "notice", "skipped",
}


# ---------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No RAG_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("RAG_SERVER_URL", "off")  # `rag ask` answers in-process, never via a server
    monkeypatch.setenv("RAG_ANSWERER", "extractive")  # `auto` would pick the local model where installed


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.txt").write_text(A_TXT, encoding="utf-8")
    (d / "b.txt").write_text(B_TXT, encoding="utf-8")
    (d / "metadata.toml").write_text(METADATA, encoding="utf-8")
    return d


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def base(docs: Path, index_dir: Path) -> list[str]:
    """Group options: tmp docs, tmp index, fake embedder."""
    return ["--docs", str(docs), "--index-dir", str(index_dir), "--model", "fake"]


@pytest.fixture
def built(base: list[str], index_dir: Path) -> list[str]:
    """`base`, with the index already built."""
    r = invoke([*base, "index"])
    assert r.exit_code == 0, r.output
    assert (index_dir / "CURRENT").exists()
    return base


def invoke(args: Sequence[str], env: Mapping[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env=dict(env or {}), catch_exceptions=False)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_main(args: Sequence[str], env: Mapping[str, str] | None = None) -> Run:
    """`rag.cli.main` in-process: RagError -> one line on stderr + exit 1."""
    runner = CliRunner()
    code: int | None = None
    with runner.isolation(env=dict(env or {})) as (out, err, _mixed):
        try:
            main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        stdout = out.getvalue().decode("utf-8", "replace")
        stderr = err.getvalue().decode("utf-8", "replace")
    assert code is not None, "main() must always exit"
    return Run(code, stdout, stderr)


def assert_clean_error(r: Run, code: int, *needles: str) -> None:
    assert r.code == code, r.output
    assert "Traceback" not in r.output
    for n in needles:
        assert n in r.stderr, r.stderr


def current_build(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text(encoding="utf-8").strip()


def markers(text: str) -> list[int]:
    return [int(m) for m in re.findall(r"\[(\d+)\]", text)]


# -------------------------------------------------------------------- help
@pytest.mark.parametrize(("command", "options"), [
    ([], ["--docs", "--index-dir", "--model", "--collection", "--no-build", "--verbose", "index", "search", "ask",
          "chat", "eval", "collections", "add", "remove", "sync"]),
    (["index"], ["--rebuild"]),
    (["search"], ["QUERY", "--mode", "--top-k", "--json", "hybrid", "bm25", "dense"]),
    (["ask"], ["QUESTION", "--mode", "--top-k", "--answerer", "--json", "--stream", "extractive", "llm"]),
    (["eval"], ["--qa", "--mode", "--answerer", "--top-k", "--out", "--compare", "--min-accuracy", "--limit", "--json"]),
    (["chat"], ["--host", "--port", "--allow-remote", "--username", "--password", "--password-file"]),
    (["collections"], ["--json"]),
    (["add"], ["PATHS", "--collection", "--link"]),
    (["remove"], ["FILES", "--collection"]),
    (["sync"], ["FOLDER", "--collection", "--keep"]),
])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_of_every_command(command: list[str], options: list[str], flag: str) -> None:
    r = invoke([*command, flag])
    assert r.exit_code == 0
    assert r.stdout.startswith("Usage: ")
    for opt in options:
        assert opt in r.stdout, f"{opt} missing from `rag {' '.join(command)} {flag}`"


def test_version() -> None:
    r = invoke(["--version"])
    assert r.exit_code == 0
    assert "0.1.0" in r.stdout


# ------------------------------------------------------------------- index
def test_index_builds_then_reports_up_to_date(base: list[str], index_dir: Path) -> None:
    r = invoke([*base, "index"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"built {index_dir}")
    assert "2 files, 2 articles" in r.stdout
    assert f"no index in {index_dir}" in r.stdout
    assert (current_build(index_dir) / "manifest.json").exists()

    r = invoke([*base, "index"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("index is up to date: 2 files, 2 articles")

    r = invoke([*base, "index", "--rebuild"])
    assert r.exit_code == 0, r.output
    assert "rebuild requested" in r.stdout
    m = re.search(r"\((\d+) embedded, (\d+) reused\)", r.stdout)
    assert m is not None and int(m.group(1)) > 0 and m.group(2) == "0"


def test_index_refreshes_when_a_document_changes(built: list[str], docs: Path) -> None:
    (docs / "b.txt").write_text(B_TXT + "平湖新增一家外资研发中心。\n", encoding="utf-8")
    r = invoke([*built, "index"])
    assert r.exit_code == 0, r.output
    assert "b.txt changed" in r.stdout
    assert "reused" in r.stdout


def test_index_skips_a_non_utf8_file_with_exit_3(base: list[str], docs: Path, index_dir: Path) -> None:
    (docs / "binary.txt").write_bytes(BINARY)
    (docs / "empty.txt").write_text("  \n", encoding="utf-8")
    r = invoke([*base, "index"])
    assert r.exit_code == EXIT_SKIPPED == 3, r.output
    assert "skipped binary.txt: is not text in a known encoding" in r.stderr
    assert "skipped empty.txt: is empty" in r.stderr
    assert "Traceback" not in r.output
    # The good files are indexed all the same.
    assert "2 files, 2 articles" in r.stdout
    chunks = (current_build(index_dir) / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    assert {json.loads(c)["source"] for c in chunks} == {"a.txt", "b.txt"}

    # A second run is up to date and still says which files are skipped.
    r = invoke([*base, "index"])
    assert r.exit_code == 3, r.output
    assert r.stdout.startswith("index is up to date")
    assert "skipped binary.txt" in r.stderr

    # Searching works and never returns the skipped file.
    r = invoke([*base, "search", "外资企业", "--json"])
    assert r.exit_code == 0, r.output
    assert {h["chunk"]["source"] for h in json.loads(r.stdout)["hits"]} <= {"a.txt", "b.txt"}


def test_index_skips_a_non_utf8_file_with_exit_3_through_main(base: list[str], docs: Path) -> None:
    (docs / "binary.txt").write_bytes(BINARY)
    r = run_main([*base, "index"])
    assert "skipped binary.txt: is not text in a known encoding" in r.stderr
    assert "2 files, 2 articles" in r.stdout
    assert r.code == 3, r.output


def test_index_of_a_folder_without_readable_documents(tmp_path: Path) -> None:
    empty = tmp_path / "nodocs"
    empty.mkdir()
    (empty / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    r = run_main(["--docs", str(empty), "--index-dir", str(tmp_path / "i"), "--model", "fake", "index"])
    assert_clean_error(r, 1, "error: no readable documents", "bad.txt")

    r = run_main(["--docs", str(tmp_path / "missing"), "--index-dir", str(tmp_path / "i"), "--model", "fake", "index"])
    assert_clean_error(r, 1, "error: documents folder", "does not exist")


# ------------------------------------------------------------------ search
def test_search_text_output(built: list[str]) -> None:
    r = invoke([*built, "search", "日资企业"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("#1  score ")
    assert re.search(r"dense #(\d+|-)  bm25 #(\d+|-)  a\.txt \[\d+:\d+\] 平湖外资报告 \(2023-03-01\)$", lines[0]), lines[0]
    assert lines[1].startswith("    ")
    assert "114家" in r.stdout


def test_search_json(built: list[str]) -> None:
    r = invoke([*built, "search", "日资企业", "--json", "-k", "3"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["query"] == "日资企业"
    assert [h["rank"] for h in data["hits"]] == [1, 2, 3]
    top = data["hits"][0]["chunk"]
    assert top["source"] == "a.txt" and "日资企业114家" in top["text"]
    assert set(data["timings_ms"]) >= {"embed+dense", "bm25", "fuse"}


# --------------------------------------------------------------------- ask
def test_ask_text_output(built: list[str]) -> None:
    r = invoke([*built, "ask", QUESTION])
    assert r.exit_code == 0, r.output
    assert "41414万美元" in r.stdout
    assert "[1]" in r.stdout
    assert "来源：" in r.stdout
    assert "[1] a.txt · 《平湖外资报告》 · 2023-03-01 · chars " in r.stdout


def test_ask_verbose_prints_timings(built: list[str]) -> None:
    r = invoke(["-v", *built, "ask", QUESTION])
    assert r.exit_code == 0, r.output
    assert "timings (ms): " in r.stdout
    assert "total" in r.stdout


def test_ask_json_shape(built: list[str], index_dir: Path) -> None:
    r = invoke([*built, "ask", QUESTION, "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)  # nothing but the JSON on stdout
    assert set(data) == ANSWER_KEYS
    assert data["question"] == QUESTION
    assert data["refused"] is False
    assert "41414" in data["answer"]
    assert (data["lang"], data["answerer"], data["mode"]) == ("zh", "extractive", "hybrid")
    assert data["verification"]["ok"] is True
    chunks = json.loads((current_build(index_dir) / "manifest.json").read_text(encoding="utf-8"))["counts"]["chunks"]
    assert chunks >= 4
    assert len(data["hits"]) == min(5, chunks)
    assert set(data["timings_ms"]) >= {"answer", "total"}

    cits = data["citations"]
    assert cits, data
    assert [c["n"] for c in cits] == list(range(1, len(cits) + 1))
    assert sorted(set(markers(data["answer"]))) == [c["n"] for c in cits]
    files = {"a.txt": A_TXT, "b.txt": B_TXT}
    for c in cits:
        assert set(c) == CITATION_KEYS
        assert c["source"] in files
        assert 0 <= c["start"] < c["end"] <= len(files[c["source"]])
        # The span points at the passage in the original file (cleaning joins
        # hard-wrapped lines, so only line breaks may differ), the quote at the passage.
        original = files[c["source"]][c["start"] : c["end"]]
        assert re.sub(r"\s", "", original) == re.sub(r"\s", "", c["passage"])
        assert c["quote"] in original
        assert c["passage"][c["quote_start"] : c["quote_end"]] == c["quote"]
        assert f"{c['quote']}[{c['n']}]" in data["answer"]
    first = cits[0]
    assert (first["source"], first["title"], first["date"]) == ("a.txt", "平湖外资报告", "2023-03-01")
    assert "41414万美元" in first["quote"]


def test_ask_json_refusal(built: list[str]) -> None:
    r = invoke([*built, "ask", "火星上有多少座火山？", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["refused"] is True
    assert data["answer"] == REFUSAL_ZH
    assert data["citations"] == []


def test_ask_json_english_question(built: list[str]) -> None:
    r = invoke([*built, "ask", "How much actual FDI was there in 2022?", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["lang"] == "en"
    assert data["refused"] is False
    assert "41414" in data["answer"]


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
@pytest.mark.parametrize("command", ["ask", "search"])
def test_empty_question(base: list[str], index_dir: Path, command: str, question: str) -> None:
    r = run_main([*base, command, question])
    assert_clean_error(r, 1, "error: the question is empty")
    assert r.stdout == ""
    if command == "ask":
        assert not index_dir.exists()  # checked before any index work


def test_over_long_question(base: list[str], index_dir: Path) -> None:
    r = run_main([*base, "ask", "外" * 501])
    assert_clean_error(r, 1, "error: the question is 501 characters long; the limit is 500")
    assert r.stderr.count("\n") == 1  # one line
    assert not index_dir.exists()

    r = run_main([*base, "ask", "外" * 11], env={"RAG_MAX_QUESTION_CHARS": "10"})
    assert_clean_error(r, 1, "the limit is 10 (RAG_MAX_QUESTION_CHARS)")


def test_question_at_the_limit_is_accepted(built: list[str]) -> None:
    q = QUESTION + "？" * (500 - len(QUESTION))
    assert len(q) == 500
    r = run_main([*built, "ask", q, "--json"])
    assert r.code == 0, r.output


# ---------------------------------------------------------------- no-build
@pytest.mark.parametrize("args", [["ask", QUESTION], ["search", "外资"], ["ask", QUESTION, "--json"]])
def test_no_build_without_an_index(base: list[str], index_dir: Path, args: list[str]) -> None:
    r = run_main(["--no-build", *base, *args])
    assert_clean_error(r, 1, "error: the index needs building", "no index in", "run: rag index")
    assert r.stdout == ""
    assert not (index_dir / "CURRENT").exists()


def test_auto_build_env_off_without_an_index(base: list[str], index_dir: Path) -> None:
    r = run_main([*base, "ask", QUESTION], env={"RAG_AUTO_BUILD": "0"})
    assert_clean_error(r, 1, "the index needs building")
    assert not (index_dir / "CURRENT").exists()


def test_no_build_with_a_fresh_then_a_stale_index(built: list[str], docs: Path) -> None:
    r = run_main(["--no-build", *built, "ask", QUESTION])
    assert r.code == 0, r.output
    assert "41414" in r.stdout

    (docs / "a.txt").write_text(A_TXT + "新增一句。\n", encoding="utf-8")
    r = run_main(["--no-build", *built, "ask", QUESTION])
    assert_clean_error(r, 1, "the index needs building (a.txt changed)")


def test_ask_builds_the_index_when_missing(base: list[str], index_dir: Path) -> None:
    r = invoke([*base, "ask", QUESTION, "--json"])
    assert r.exit_code == 0, r.output
    assert (index_dir / "CURRENT").exists()


# ------------------------------------------------------------ bad options
@pytest.mark.parametrize(("args", "needle"), [
    (["search", "外资", "-k", "0"], "-k"),
    (["search", "外资", "-k", "51"], "-k"),
    (["search", "外资", "--top-k", "x"], "--top-k"),
    (["search", "外资", "--mode", "foo"], "--mode"),
    (["ask", QUESTION, "-k", "0"], "-k"),
    (["ask", QUESTION, "--mode", "foo"], "--mode"),
    (["ask", QUESTION, "--answerer", "gpt"], "--answerer"),
    (["ask"], "QUESTION"),
    (["search"], "QUERY"),
    (["index", "--bogus"], "--bogus"),
    (["eval", "-k", "0"], "-k"),
    (["eval", "--mode", "foo"], "--mode"),
    (["eval", "--min-accuracy", "1.01"], "--min-accuracy"),
    (["eval", "--min-accuracy", "-0.1"], "--min-accuracy"),
    (["eval", "--limit", "0"], "--limit"),
    (["chat", "--port", "0"], "--port"),
    (["chat", "--port", "70000"], "--port"),
    (["chat", "--username", "u"], "--username and --password (or --password-file) go together"),
    (["nosuchcommand"], "nosuchcommand"),
])
def test_bad_options_exit_2(base: list[str], index_dir: Path, args: list[str], needle: str) -> None:
    r = run_main([*base, *args])
    assert_clean_error(r, 2, needle)
    assert "Usage:" in r.stderr or "Error:" in r.stderr
    assert not index_dir.exists()  # rejected before any work


# ------------------------------------------------------- env vs flag
def test_top_k_flag_beats_env(built: list[str]) -> None:
    env = {"RAG_TOP_K": "1"}
    r = invoke([*built, "search", "外资", "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["hits"]) == 1
    r = invoke([*built, "search", "外资", "--json", "-k", "3"], env=env)
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["hits"]) == 3
    r = invoke([*built, "ask", QUESTION, "--json", "-k", "2"], env=env)
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["hits"]) == 2


def test_invalid_env_value_is_a_clean_error_and_a_flag_overrides_it(built: list[str]) -> None:
    r = run_main([*built, "search", "外资"], env={"RAG_TOP_K": "99"})
    assert_clean_error(r, 1, "error: top_k must be between 1 and 50 (RAG_TOP_K), got 99")
    r = run_main([*built, "search", "外资", "--json", "-k", "2"], env={"RAG_TOP_K": "99"})
    assert r.code == 0, r.output
    assert len(json.loads(r.stdout)["hits"]) == 2

    r = run_main([*built, "ask", QUESTION], env={"RAG_MODE": "fuzzy"})
    assert_clean_error(r, 1, "RAG_MODE", "fuzzy")
    r = run_main([*built, "ask", QUESTION], env={"RAG_TOP_K": "many"})
    assert_clean_error(r, 1, "RAG_TOP_K='many' is not a valid int")


def test_mode_flag_beats_env(built: list[str]) -> None:
    env = {"RAG_MODE": "bm25"}
    r = invoke([*built, "ask", QUESTION, "--json"], env=env)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["mode"] == "bm25"
    assert all(h["dense_rank"] is None and h["bm25_rank"] is not None for h in data["hits"])

    r = invoke([*built, "ask", QUESTION, "--json", "--mode", "dense"], env=env)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["mode"] == "dense"
    assert all(h["bm25_rank"] is None and h["dense_rank"] is not None for h in data["hits"])


def test_index_dir_and_model_flags_beat_env(docs: Path, tmp_path: Path) -> None:
    env_dir, flag_dir = tmp_path / "env-index", tmp_path / "flag-index"
    env = {"RAG_INDEX_DIR": str(env_dir), "RAG_EMBED_MODEL": "fake:32", "RAG_DOCS_DIR": str(docs)}
    r = invoke(["--index-dir", str(flag_dir), "--model", "fake", "index"], env=env)
    assert r.exit_code == 0, r.output
    assert (flag_dir / "CURRENT").exists()
    assert not env_dir.exists()
    manifest = json.loads((current_build(flag_dir) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embed_model"] == "fake-ngram-64"
    assert manifest["docs_dir"] == str(docs)  # from RAG_DOCS_DIR: no flag given

    # Without the flags, the environment applies.
    r = invoke(["index"], env=env)
    assert r.exit_code == 0, r.output
    manifest = json.loads((current_build(env_dir) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embed_model"] == "fake-ngram-32"


def test_docs_flag_beats_env(docs: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "only.txt").write_text("另一份文件，讲的是平湖的农业。\n", encoding="utf-8")
    env = {"RAG_DOCS_DIR": str(other), "RAG_EMBED_MODEL": "fake"}
    r = invoke(["--docs", str(docs), "--index-dir", str(tmp_path / "i"), "index"], env=env)
    assert r.exit_code == 0, r.output
    assert "2 files" in r.stdout
    r = invoke(["--index-dir", str(tmp_path / "j"), "index"], env=env)
    assert r.exit_code == 0, r.output
    assert "1 files" in r.stdout


# -------------------------------------------------------------------- eval
def qa_line(id_: str, question: str, type_: str, answers: list[str], source: str | None,
            evidence: str | None, lang: str = "zh") -> str:
    return json.dumps({"id": id_, "question": question, "lang": lang, "type": type_, "answers": answers,
                       "source": source, "evidence": evidence}, ensure_ascii=False)


GOOD_QA = [
    qa_line("t1", "2022年平湖按部口径统计的实际外资是多少？", "numeric", ["41414万美元", "41414"], "a.txt",
            "2022年平湖实际外资（部口径）达到41414万美元"),
    qa_line("t2", "How much actual FDI was there in 2022?", "numeric", ["41414万美元", "41414"], "a.txt",
            "2022年平湖实际外资（部口径）达到41414万美元", lang="en"),
    qa_line("t3", "平湖的市长是谁？", "unanswerable", [], None, None),
]
# An answer no passage contains: this item scores 0 whatever the pipeline does.
IMPOSSIBLE = qa_line("t4", "平湖有多少家日资企业？", "numeric", ["99999家"], "a.txt",
                     "全市共有日资企业114家，被誉为日资高地")


@pytest.fixture
def qa_file(tmp_path: Path) -> Path:
    p = tmp_path / "qa.jsonl"
    p.write_text("\n".join([*GOOD_QA, IMPOSSIBLE]) + "\n", encoding="utf-8")
    return p


def test_eval_writes_its_outputs(base: list[str], qa_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev"
    r = run_main([*base, "eval", "--qa", str(qa_file), "--out", str(out)])
    assert r.code == 0, r.output
    assert f"wrote {out}/report.md" in r.stdout
    assert "hybrid" in r.stdout
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == ["t1", "t2", "t3", "t4"]
    assert all(row["error"] is None for row in rows)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["items"] == 4 and report["k"] == 5
    assert report["qa_file"] == str(qa_file)
    assert [c["name"] for c in report["configs"]] == ["hybrid"]
    acc = report["configs"][0]["overall"]["accuracy"]
    assert 0.0 <= acc <= 0.75  # t4 can never be right
    assert (out / "report.md").read_text(encoding="utf-8").strip()
    assert (out / "accuracy_by_type.png").stat().st_size > 0


def test_eval_json_and_limit(base: list[str], qa_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev"
    r = run_main([*base, "eval", "--qa", str(qa_file), "--out", str(out), "--limit", "2", "--json",
                  "--mode", "bm25", "-k", "3"])
    assert r.code == 0, r.output
    report = json.loads(r.stdout)
    assert report["items"] == 2 and report["k"] == 3
    assert report["configs"][0]["mode"] == "bm25"
    assert len((out / "results.jsonl").read_text(encoding="utf-8").splitlines()) == 2


@pytest.fixture
def reached(base: list[str], qa_file: Path, tmp_path: Path) -> float:
    """The accuracy the pipeline reaches on qa_file (index built on the way)."""
    r = run_main([*base, "eval", "--qa", str(qa_file), "--out", str(tmp_path / "first"), "--json"])
    assert r.code == 0, r.output
    acc = json.loads(r.stdout)["configs"][0]["overall"]["accuracy"]
    assert 0.0 < acc < 1.0  # t4 is always wrong; t1 is easy
    return float(acc)


def test_eval_min_accuracy_met(base: list[str], qa_file: Path, tmp_path: Path, reached: float) -> None:
    r = run_main([*base, "eval", "--qa", str(qa_file), "--out", str(tmp_path / "b"),
                  "--min-accuracy", str(reached)])
    assert r.code == 0, r.output
    assert "below" not in r.stderr


def test_eval_min_accuracy_not_met_cli(base: list[str], qa_file: Path, tmp_path: Path, reached: float) -> None:
    out = tmp_path / "c"
    r = invoke([*base, "eval", "--qa", str(qa_file), "--out", str(out), "--min-accuracy", "1.0"])
    assert r.exit_code == 1, r.output
    assert f"accuracy {reached:.3f} (qa) is below --min-accuracy 1.000" in r.stderr
    assert (out / "report.json").exists()  # the outputs are written all the same


def test_eval_min_accuracy_not_met_through_main(base: list[str], qa_file: Path, tmp_path: Path,
                                                reached: float) -> None:
    r = run_main([*base, "eval", "--qa", str(qa_file), "--out", str(tmp_path / "c"),
                  "--min-accuracy", "1.0"])
    assert "is below --min-accuracy 1.000" in r.stderr
    assert_clean_error(r, 1, "is below --min-accuracy 1.000")


@pytest.mark.parametrize(("content", "needle"), [
    ('{"id": "x"\n', "line 1: not valid JSON"),
    (GOOD_QA[0] + "\nnot json at all\n", "line 2: not valid JSON"),
    ('{"id": "x", "question": "平湖？"}\n', "line 1: missing field(s)"),
    (GOOD_QA[0].replace('"numeric"', '"numerical"') + "\n", "line 1: type must be one of"),
    (GOOD_QA[0].replace('"lang": "zh"', '"lang": "en"') + "\n", "line 1: lang is 'en' but the question reads as 'zh'"),
    (GOOD_QA[0] + "\n" + GOOD_QA[0] + "\n", "line 2: duplicate id 't1'"),
    ("\n\n", "the file has no questions"),
])
def test_eval_malformed_qa_file(base: list[str], tmp_path: Path, index_dir: Path, content: str, needle: str) -> None:
    qa = tmp_path / "bad.jsonl"
    qa.write_text(content, encoding="utf-8")
    out = tmp_path / "ev"
    r = run_main([*base, "eval", "--qa", str(qa), "--out", str(out)])
    assert_clean_error(r, 1, f"error: QA file {qa}", needle)
    assert r.stderr.count("\n") == 1
    assert not out.exists()
    assert not index_dir.exists()


def test_eval_missing_or_non_utf8_qa_file(base: list[str], tmp_path: Path) -> None:
    r = run_main([*base, "eval", "--qa", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "ev")])
    assert_clean_error(r, 1, "does not exist", "nope.jsonl")
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes(GOOD_QA[0].encode("gbk"))
    r = run_main([*base, "eval", "--qa", str(gbk), "--out", str(tmp_path / "ev")])
    assert_clean_error(r, 1, "cannot be read", "gbk.jsonl")


def test_eval_no_build_without_an_index(base: list[str], qa_file: Path, tmp_path: Path) -> None:
    r = run_main(["--no-build", *base, "eval", "--qa", str(qa_file), "--out", str(tmp_path / "ev")])
    assert_clean_error(r, 1, "the index needs building")


# -------------------------------------------------------------- subprocess
def rag_script() -> str:
    for candidate in (Path(sys.executable).parent / "rag", shutil.which("rag")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail("the `rag` console script is not installed (pip install -e .)")


@pytest.fixture
def sub_env(docs: Path, index_dir: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_EMBED_MODEL="fake", RAG_DOCS_DIR=str(docs), RAG_INDEX_DIR=str(index_dir),
               HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8", RAG_SERVER_URL="off",
               RAG_ANSWERER="extractive")  # as _clean_env: `auto` would load the local model where installed
    yield env


def sh(args: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([rag_script(), *args], env=dict(env), cwd=cwd, capture_output=True,
                          text=True, encoding="utf-8", timeout=180)


def test_console_script_end_to_end(sub_env: dict[str, str], docs: Path, tmp_path: Path) -> None:
    p = sh(["--help"], sub_env, tmp_path)
    assert p.returncode == 0 and "Usage: rag" in p.stdout

    (docs / "binary.txt").write_bytes(BINARY)
    p = sh(["index"], sub_env, tmp_path)
    assert "skipped binary.txt: is not text in a known encoding" in p.stderr
    assert "2 files" in p.stdout
    assert "Traceback" not in p.stderr
    assert p.returncode in (0, 3), p.stderr  # 3 is right: see test_console_script_index_exit_3

    p = sh(["ask", QUESTION, "--json"], sub_env, tmp_path)
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert set(data) == ANSWER_KEYS
    assert data["refused"] is False and "41414" in data["answer"]
    assert all(set(c) == CITATION_KEYS for c in data["citations"])

    p = sh(["ask", "   "], sub_env, tmp_path)
    assert p.returncode == 1
    assert p.stderr.strip() == "error: the question is empty"

    p = sh(["search", "外资", "-k", "0"], sub_env, tmp_path)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "-k" in p.stderr

    # The flag beats the environment in the real process too.
    p = sh(["search", "外资", "--json", "-k", "2"], {**sub_env, "RAG_TOP_K": "4"}, tmp_path)
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)["hits"]) == 2


def test_console_script_no_build(sub_env: dict[str, str], tmp_path: Path) -> None:
    p = sh(["--no-build", "ask", QUESTION], sub_env, tmp_path)
    assert p.returncode == 1
    assert p.stderr.startswith("error: the index needs building")
    assert "Traceback" not in p.stderr


def test_console_script_index_exit_3(sub_env: dict[str, str], docs: Path, tmp_path: Path) -> None:
    (docs / "binary.txt").write_bytes(BINARY)
    p = sh(["index"], sub_env, tmp_path)
    assert "skipped binary.txt: is not text in a known encoding" in p.stderr
    assert p.returncode == 3, p.stderr


def test_console_script_eval_min_accuracy_exit_1(sub_env: dict[str, str], qa_file: Path, tmp_path: Path) -> None:
    p = sh(["eval", "--qa", str(qa_file), "--out", str(tmp_path / "ev"), "--min-accuracy", "1.0"],
           sub_env, tmp_path)
    assert "is below --min-accuracy 1.000" in p.stderr
    assert p.returncode == 1, p.stderr


def test_console_script_eval_writes_outputs(sub_env: dict[str, str], qa_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev"
    p = sh(["eval", "--qa", str(qa_file), "--out", str(out)], sub_env, tmp_path)
    assert p.returncode == 0, p.stderr
    for name in ("results.jsonl", "report.json", "report.md", "accuracy_by_type.png"):
        assert (out / name).is_file(), name
    p = sh(["eval", "--qa", str(tmp_path / "missing.jsonl")], sub_env, tmp_path)
    assert p.returncode == 1
    assert p.stderr.strip() == f"error: QA file {tmp_path / 'missing.jsonl'} does not exist"
