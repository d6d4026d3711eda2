"""A page's rows as a JSON array written from ``COPY``'s text format, byte for byte as
PostgreSQL's ``json_agg`` of the same rows writes it.

Building JSON in the database costs several times the ``COPY`` of the same rows, and a
Python loop per value is slower still; so the page is read as ``COPY`` text and rewritten
in a few passes over all of it, each column by its type (:func:`kind`):

- text (``text``, ``character varying``, ``character``): COPY escapes backslash, ``\\b
  \\f \\n \\r \\t`` as JSON does; only ``"``, ``\\v`` and the other control characters
  need rewriting, the rest (non-ASCII included) passes as it is;
- integers, ``numeric``, ``real``, ``double precision``: numbers as written, except
  ``NaN`` and the infinities, which json_agg quotes;
- ``boolean``: selected as ``::text`` (``true``/``false``);
- ``date``: as written under ``DateStyle`` ISO (json_agg's own format), quoted;
- timestamps: json_agg's own spelling, from ``to_json`` in the query;
- NULL (``\\N``): ``null``.

Any other type (json, arrays, intervals, ...) has no layout: the page is built by json_agg.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from psycopg import sql

STRING, NUMBER, FLOAT, BOOL, DATE, TIMESTAMP = (
    "string", "number", "float", "bool", "date", "timestamp")
ROW_SEPARATOR = b", \n "  # json_agg's, between the objects of rows

_TYPES = {"text": STRING, "smallint": NUMBER, "integer": NUMBER, "bigint": NUMBER,
          "real": FLOAT, "double precision": FLOAT, "numeric": FLOAT, "boolean": BOOL,
          "date": DATE}
_TYPE_RE = re.compile(r"^(character varying|character|numeric|timestamp|time)"
                      r"(\(\d+(,\s*\d+)?\))?( with(out)? time zone)?$")
# COPY text leaves these raw; JSON writes them \u00XX (\t and \n are COPY's separators)
_CONTROLS = bytes(range(0x00, 0x09)) + bytes(range(0x0b, 0x20))
_NOT_CONTROLS = bytes(b for b in range(256) if b not in _CONTROLS)
_REWRITE = re.compile(rb"\\.|[\x00-\x08\x0b-\x1f]", re.DOTALL)
_COPY_ESCAPES = {ord("b"): b"\b", ord("f"): b"\f", ord("n"): b"\n", ord("r"): b"\r",
                 ord("t"): b"\t", ord("v"): b"\v"}
_UNESCAPE = re.compile(rb"\\(.)", re.DOTALL)


def kind(type_: str) -> str | None:
    """How a column of this type (``format_type``'s spelling) is written; None: not here."""
    if type_ in _TYPES:
        return _TYPES[type_]
    found = _TYPE_RE.match(type_)
    if found is None:
        return None
    return {"character varying": STRING, "character": STRING, "numeric": FLOAT,
            "timestamp": TIMESTAMP}.get(found[1])


@dataclass(frozen=True)
class Layout:
    """How a page's COPY rows are selected and rewritten as JSON."""

    expressions: tuple[sql.Composable, ...]  # the COPY's select list
    # the JSON before each COPY field of a row (the first row's first: ``first``; a block's
    # first row's first: ``separator``), ``close`` after a block's last row; ``hidden``:
    # fields read for the cursor, not written
    prefixes: tuple[bytes, ...]
    first: bytes
    separator: bytes
    close: bytes
    hidden: tuple[int, ...]
    key_fields: tuple[int, ...]  # where the primary key's values are in a COPY row
    floats: tuple[bytes, ...]  # '"name":' of the columns that may hold NaN or infinities
    dates: bool  # written as COPY writes them under DateStyle ISO only

    def render(self, blocks: Iterable[bytes], limit: int
               ) -> tuple[bytes, list[str] | None, bool]:
        """(the JSON array of at most ``limit`` rows, the key of the last of them, whether
        a row follows it) from COPY text of up to ``limit`` + 1 rows, in blocks of whole
        rows (:class:`PageJson`, block by block as they arrive)."""
        page = PageJson(self, limit)
        for block in blocks:
            page.add(block)
        return page.result()

    def _rewrite(self, text: bytes, count: int, first: bool) -> bytes:
        """``count`` whole rows of COPY text as JSON objects, the first opened by ``first``
        or ``separator``, the last closed."""
        escapes = b"\\" in text
        nulls = escapes and b"\\N" in text
        # one byte is found faster than three: the words are looked for only when it is there
        nans = bool(self.floats) and ((b"N" in text and b"NaN" in text)
                                      or (b"I" in text and b"Infinity" in text))
        if (escapes and b"\\v" in text) or text.translate(None, _NOT_CONTROLS):
            text = _REWRITE.sub(_json_escape, text)
        fields = text[:-1].replace(b'"', b'\\"').replace(b"\n", b"\t").split(b"\t")
        width = len(self.prefixes)
        if len(fields) != count * width:
            raise ValueError(f"COPY sent {len(fields)} values for {count} rows of {width}")
        # each value between the JSON before it, in one join: no Python step per value
        parts = [None] * (2 * width)
        parts[::2] = self.prefixes
        parts *= count
        parts[0] = self.first if first else self.separator
        parts[1::2] = fields
        for hidden in self.hidden:
            parts[2 * hidden + 1::2 * width] = (b"",) * count
        parts.append(self.close)
        body = b"".join(parts)
        if nulls:  # a text's backslash is doubled: only a NULL makes :"\N" or :\N
            body = body.replace(b':"\\N"', b":null").replace(b":\\N", b":null")
        for name in self.floats if nans else ():
            for word in (b"NaN", b"Infinity", b"-Infinity"):
                body = body.replace(name + word + b",", name + b'"' + word + b'",').replace(
                    name + word + b"}", name + b'"' + word + b'"}')
        return body


class PageJson:
    """A page's JSON written as its COPY rows arrive: :meth:`add` each block of whole rows
    (rewritten at once, while the warehouse sends the next), then :meth:`result`."""

    def __init__(self, layout: Layout, limit: int):
        self.layout, self.limit = layout, limit
        self.parts: list[bytes] = []
        self.count, self.more, self.last = 0, False, b""

    def add(self, block: bytes) -> None:
        rows = block.count(b"\n")
        if self.count + rows > self.limit:
            self.more = True
            cut = len(block)
            for _ in range(self.count + rows - self.limit):  # the rows past the page
                cut = block.rfind(b"\n", 0, cut - 1) + 1
            block, rows = block[:cut], self.limit - self.count
        if rows:
            self.parts.append(self.layout._rewrite(block, rows, first=not self.count))
            self.count, self.last = self.count + rows, block

    def result(self) -> tuple[bytes, list[str] | None, bool]:
        """(the JSON array, the key of its last row, whether a row follows it)."""
        if not self.count:
            return b"[]", None, self.more
        last = self.last
        fields = last[last.rfind(b"\n", 0, len(last) - 1) + 1:-1].split(b"\t")
        key_fields = self.layout.key_fields
        key = [_copy_text(fields[i]) for i in key_fields] if key_fields else None
        return b"".join([*self.parts, b"]"]), key, self.more


def layout(columns: list[tuple[str, str]], key: list[tuple[str, str]]) -> Layout | None:
    """The layout of a page of ``columns`` (name, type), its cursor read from the ``key``
    columns (empty: none); None when a type is not written here."""
    return _layout(tuple(columns), tuple(key))


@lru_cache(maxsize=512)
def _layout(columns: tuple[tuple[str, str], ...], key: tuple[tuple[str, str], ...]
            ) -> Layout | None:
    kinds = [kind(type_) for _, type_ in columns]
    if None in kinds:
        return None
    expressions: list[sql.Composable] = []
    prefixes: list[bytes] = []
    floats: list[bytes] = []
    quote = b""  # closes the value before
    for (name, _), how in zip(columns, kinds, strict=True):
        column = sql.SQL("t.{}").format(sql.Identifier(name))
        if how == BOOL:
            column = sql.SQL("{}::text").format(column)
        elif how == TIMESTAMP:
            column = sql.SQL("btrim(to_json({})::text, '\"')").format(column)
        expressions.append(column)
        label = json.dumps(name, ensure_ascii=False).encode() + b":"
        opening = b'"' if how in (STRING, DATE, TIMESTAMP) else b""
        prefixes.append((quote + b"," if prefixes else b"{") + label + opening)
        quote = opening
        if how == FLOAT:
            floats.append(label)
    close = quote + b"}"
    # the cursor's values as `::text` writes them: a column's own field when COPY writes
    # it so (not a timestamp's JSON spelling, nor character(n), whose ::text is trimmed),
    # else the key column once more, not written into the JSON
    key_fields, hidden = [], []
    positions = {name: i for i, (name, _) in enumerate(columns)}
    for name, type_ in key:
        if (name in positions and kinds[positions[name]] != TIMESTAMP
                and not type_.startswith("character(")):
            key_fields.append(positions[name])
        else:
            key_fields.append(len(expressions))
            hidden.append(len(expressions))
            expressions.append(sql.SQL("t.{}::text").format(sql.Identifier(name)))
            prefixes.append(b"" if len(hidden) > 1 else close)
    if hidden:  # the object is closed before the hidden fields
        close = b""
    opening = prefixes[0]
    prefixes[0] = close + ROW_SEPARATOR + opening
    return Layout(expressions=tuple(expressions), prefixes=tuple(prefixes),
                  first=b"[" + opening, separator=ROW_SEPARATOR + opening, close=close,
                  hidden=tuple(hidden),
                  key_fields=tuple(key_fields), floats=tuple(floats), dates=DATE in kinds)


def _json_escape(found: re.Match) -> bytes:
    token = found[0]
    if len(token) == 1:
        return b"\\u%04x" % token[0]
    return b"\\u000b" if token == b"\\v" else token


def _copy_text(field: bytes) -> str:
    """A value as COPY text writes it, unescaped."""
    if b"\\" in field:
        field = _UNESCAPE.sub(lambda m: _COPY_ESCAPES.get(m[1][0], m[1]), field)
    return field.decode()
