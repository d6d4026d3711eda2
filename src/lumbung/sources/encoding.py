"""What a received file really is, and reading its text whatever encoding it came in.

Regencies send what their tools write: UTF-8 (with or without a byte-order mark), UTF-16
("Unicode Text" in Excel, always with a byte-order mark), and Windows-1252 from older
Siskeudes and Excel installations (Latin-1 files read the same: the bytes where the two
differ are control characters no export writes). ``detect`` tells which from the first bytes;
anything else (UTF-32, UTF-16 without a byte-order mark, a binary format under a text name)
is ``NotText``, whose message names what the file is and what to export instead.

``text`` opens a byte stream as text in the detected encoding without ever raising a codec
error: bytes that are not valid in it become lone surrogates (``\\udcXX``), which the record
checks quarantine as undecodable, and ``shown`` turns any such text into something printable
and storable.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass
from typing import IO

SAMPLE = 1 << 16  # bytes looked at to tell the encoding
EXPORT_INSTEAD = "export the file again as CSV UTF-8 (Excel: 'CSV UTF-8 (Comma delimited)')"


@dataclass(frozen=True)
class Encoding:
    """A text encoding as found in a file: its name for people and its Python codec."""

    name: str
    codec: str
    bom: bytes = b""

    @property
    def is_utf8(self) -> bool:
        return self.codec == "utf-8"


UTF8 = Encoding("UTF-8", "utf-8")
UTF8_BOM = Encoding("UTF-8 with byte-order mark", "utf-8", codecs.BOM_UTF8)
UTF16LE = Encoding("UTF-16 LE", "utf-16-le", codecs.BOM_UTF16_LE)
UTF16BE = Encoding("UTF-16 BE", "utf-16-be", codecs.BOM_UTF16_BE)
CP1252 = Encoding("Windows-1252", "cp1252")
RECOGNISED = (UTF8, UTF8_BOM, UTF16LE, UTF16BE, CP1252)


class NotText(ValueError):
    """The file is not text in an encoding Lumbung reads (the message says what it is)."""


# Signatures of formats sent under a text or spreadsheet name: (magic bytes, what it is).
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an XLSX workbook is one)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Excel 97-2003 (.xls) workbook"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"{\\rtf", "an RTF document"),
)


def binary_format(head: bytes) -> str | None:
    """What a file starting with ``head`` is, if it has a known binary signature."""
    for magic, what in SIGNATURES:
        if head.startswith(magic):
            return what
    return None


def detect(head: bytes) -> Encoding:
    """The encoding of a text file starting with ``head`` (its first ``SAMPLE`` bytes or all
    of it), or NotText saying what the file is instead."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise NotText(f"UTF-32 text, which Lumbung does not read: {EXPORT_INSTEAD}")
    if head.startswith(codecs.BOM_UTF8):
        return UTF8_BOM
    if head.startswith(codecs.BOM_UTF16_LE):
        return UTF16LE
    if head.startswith(codecs.BOM_UTF16_BE):
        return UTF16BE
    what = binary_format(head)
    if what:
        raise NotText(f"{what}, not text: {EXPORT_INSTEAD}")
    if b"\x00" in head:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if len(head) >= 16 and max(even, odd) > len(head) // 4:
            order = "BE" if even > odd else "LE"
            raise NotText(f"UTF-16 {order} text without a byte-order mark: {EXPORT_INSTEAD} "
                          "(or as 'Unicode Text', which writes the mark)")
    if head.isascii():
        return UTF8
    # Text with valid UTF-8 characters in it is UTF-8 (a line in another encoding is that
    # line's defect, quarantined); text whose every non-ASCII byte is invalid UTF-8 is not.
    if len(head) >= SAMPLE and b"\n" in head:  # the sample may end inside a character
        head = head[: head.rfind(b"\n") + 1]
    decoded = head.decode("utf-8", "surrogateescape")
    if not _SURROGATES.search(decoded) or not _SURROGATES.sub("", decoded).isascii():
        return UTF8
    return CP1252


def _escape(err: UnicodeError) -> tuple[str, int]:
    """Every undecodable byte as a lone surrogate U+DC00+byte (``surrogateescape`` only
    covers bytes >= 0x80; a cut-off UTF-16 character can end in any byte)."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    bad = err.object[err.start:err.end]
    return "".join(chr(0xDC00 + b) for b in bad), err.end


def _latin1(err: UnicodeError) -> tuple[str, int]:
    """Bytes Windows-1252 leaves undefined (0x81, 0x8d, 0x8f, 0x90, 0x9d) read as Latin-1,
    as Windows itself reads them."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return err.object[err.start:err.end].decode("latin-1"), err.end


codecs.register_error("lumbung-escape", _escape)
codecs.register_error("lumbung-latin1", _latin1)


def errors_of(encoding: Encoding) -> str:
    if encoding.codec == "cp1252":
        return "lumbung-latin1"
    if encoding.is_utf8:
        return "surrogateescape"  # what the record checks and the bulk path always assumed
    return "lumbung-escape"


def text(raw: IO[bytes], encoding: Encoding) -> io.TextIOWrapper:
    """``raw`` (positioned at its start) as text: byte-order mark skipped, line ends kept as
    received (``newline=''``, as the csv module wants), no codec error ever raised."""
    if encoding.bom:
        skipped = raw.read(len(encoding.bom))
        if skipped != encoding.bom:
            raise NotText("the byte-order mark changed while reading")
    return io.TextIOWrapper(raw, encoding=encoding.codec, errors=errors_of(encoding),
                            newline="")


def decode(data: bytes) -> tuple[str, Encoding]:
    """A whole small file (JSON, an HTML table) as text, strictly: NotText names the
    encoding found and the byte that is not valid in it."""
    encoding = detect(data[:SAMPLE])
    body = data[len(encoding.bom):]
    try:
        return body.decode(encoding.codec), encoding
    except UnicodeDecodeError as err:
        raise NotText(f"not valid {encoding.name} text (byte {err.start + len(encoding.bom)}): "
                      f"{EXPORT_INSTEAD}") from None


_SURROGATES = re.compile("[\ud800-\udfff]")


def shown(value: str) -> str:
    """Text fit to print and store: bytes escaped by ``text`` restored where they form valid
    UTF-8, every other undecodable byte as U+FFFD."""
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", value)


def undecodable(value: str) -> bool:
    """Whether a value holds bytes its file's encoding could not decode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
