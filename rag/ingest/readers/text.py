"""Plain text and Markdown files (.txt, .md) in any common Chinese encoding.

UTF-8 (with or without a BOM) and UTF-16/UTF-32 with a BOM are decoded
directly; anything else goes to charset-normalizer, which tells GBK/GB18030
(and UTF-16 without a BOM, Big5, ...) apart by how plausible the decoded
text is. Offsets are character offsets in the decoded text, which is the
file's text (`offsets_in_file=True`); a BOM is not part of it.

A file no encoding explains (a binary file renamed .txt) is reported with
the first byte that is not UTF-8.

Short texts are ambiguous (the bytes of "平湖" in GBK are valid Big5); among
equally plausible decodings GB18030 wins, as this product reads mainland
Chinese documents. Left out: a way to name a file's encoding by hand.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from rag.errors import DocumentError
from rag.ingest.readers.base import PageProgress, SourceText, read_bytes

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(raw: bytes) -> tuple[str, str]:
    """(text, encoding) of a text file's bytes, or DocumentError."""
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(enc), enc
            except UnicodeDecodeError as e:
                raise DocumentError(f"starts with a {enc} byte-order mark but is not {enc} (byte {e.start})") from e
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        bad = e.start
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw))
    best = matches[0] if matches else None
    if best is None or best.encoding is None:
        raise DocumentError(
            f"is not text in a known encoding (not UTF-8 from byte {bad}, nor UTF-16 or GB18030); "
            "is it a binary file?"
        )
    # Short texts are ambiguous (GBK bytes are often valid Big5 too); among
    # equally plausible decodings prefer GB18030, the mainland standard.
    for m in matches:
        if m.encoding == "gb18030" and m.percent_chaos <= best.percent_chaos:
            return str(m), "gb18030"
    return str(best), best.encoding


class TextReader:
    suffixes: tuple[str, ...] = (".txt", ".md")
    kind = "text"

    def read(self, path: Path, progress: PageProgress | None = None) -> SourceText:
        text, encoding = decode_text(read_bytes(path))
        text = text.removeprefix("\ufeff")
        if "\x00" in text:
            raise DocumentError(f"contains NUL characters after decoding as {encoding}; is it a binary file?")
        if not text.strip():
            raise DocumentError("is empty")
        return SourceText(text=text, kind="text", encoding=encoding)
