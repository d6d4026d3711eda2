"""Bulk landing of APBDes CSV tables: the member's bytes go to ``COPY``, checked with numpy.

Reading a Siskeudes table row by row in Python (``csv.reader``, per-row checks, one
``write_row`` per row) costs several times what PostgreSQL needs to parse the same bytes. Here
the body of a table is read in blocks of whole lines, and each block is checked as a whole:

- it must be plain, well-formed CSV: valid UTF-8, no NUL, no carriage return outside a
  ``\\r\\n`` line end, no blank line, quotes only around whole fields (``""`` inside), no line
  break inside quotes, and exactly the header's number of fields on every line. On such text
  PostgreSQL's CSV parser and Python's ``csv`` module read the same values, so the lines are
  passed on as received, each prefixed with ``_batch_id`` and ``_row_number`` (its line);
- amounts and dates are checked for every line at once: a value in Siskeudes' own shape
  (``1.234.567,00``, ``dd/mm/yyyy``) needs nothing more, any other line is parsed and given
  the same per-row checks as the row-by-row path (``apbdes.checked_records``), which may
  still accept it or quarantine it with the same reason;
- a line whose text without quotes equals the line before it is parsed too, and quarantined
  when its values repeat the previous row's.

The first block that is not plain CSV hands the rest of the table to the row-by-row reader
(same numbering, same checks, same reasons), whose good rows are written back as CSV. So
every row is loaded or quarantined exactly as before, only faster on the files regencies
really send. Memory stays flat: one block (about 1 MiB of text) at a time. A value longer
than the field limit, or a line longer than the header's fields at that limit, hands over to
the row-by-row reader too, which reads lines at a bounded cost and rejects the file naming
the limit (``landing.Rows``). Only UTF-8 tables come here; others are read row by row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import IO

import numpy as np

from lumbung.config import limits
from lumbung.landing import Chunk, Record

BLOCK = 1 << 20  # bytes read at a time; a block is cut after its last line break
WINDOW = 16  # longest amount checked in bulk (9.999.999.999,99); longer ones are parsed
_QUOTE, _LF, _CR, _COMMA, _DOT, _SLASH, _MINUS = (ord(c) for c in '"\n\r,./-')


class _NotPlain(Exception):
    """A block the bulk path cannot vouch for; the row-by-row reader takes over."""


# An amount in Siskeudes' shape, right-aligned in WINDOW bytes: _AFTER[j] is how many bytes
# before the value's end position j is; there the shape has the comma (3), a thousands point
# (7, 11, 15, ...) or a digit (_DIGIT).
_AFTER = np.arange(WINDOW, 0, -1)
_POINTS = np.where(_AFTER == 3, _COMMA,
                   np.where((_AFTER >= 7) & ((_AFTER - 7) % 4 == 0), _DOT, 0)).astype(np.uint8)
_DIGIT = _POINTS == 0
_DATE_DIGITS = [0, 1, 3, 4, 6, 7, 8, 9]
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _padded(a: np.ndarray) -> np.ndarray:
    """The block with WINDOW zero bytes on both sides, so that windows never fall off it."""
    pad = np.zeros(WINDOW, dtype=np.uint8)
    return np.concatenate((pad, a, pad))


def _unquoted(a: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, ...]:
    """The value's bounds: quotes around a field are part of the CSV, not of the value."""
    quoted = (a[np.minimum(start, len(a) - 1)] == _QUOTE) & (end > start)
    return start + quoted, end - quoted


def _canonical_amounts(a: np.ndarray, padded: np.ndarray, start: np.ndarray, end: np.ndarray,
                       signed: bool) -> np.ndarray:
    """Which fields [start, end) of ``a`` are amounts in Siskeudes' shape, like
    ``apbdes._CANONICAL`` (1.234.567,00; ``-`` allowed when signed)."""
    start, end = _unquoted(a, start, end)
    if signed:
        start = start + ((a[np.minimum(start, len(a) - 1)] == _MINUS) & (end > start))
    length = end - start
    window = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[end]  # a[end-WINDOW:end]
    fits = np.where(_DIGIT, (window - np.uint8(ord("0"))) < 10, window == _POINTS)
    fits |= _AFTER > length[:, None]  # before the value: not part of it
    return fits.all(axis=1) & (length >= 4) & (length <= WINDOW) & ((length - 3) % 4 != 0)


def _valid_dates(a: np.ndarray, padded: np.ndarray, start: np.ndarray,
                 end: np.ndarray) -> np.ndarray:
    """Which fields are dates dd/mm/yyyy that exist (as ``apbdes._valid_date``, minus the
    blanks it forgives: those lines are parsed and checked one by one)."""
    start, end = _unquoted(a, start, end)
    window = np.lib.stride_tricks.sliding_window_view(padded, 10)[start + WINDOW]
    n = window.astype(np.int32) - ord("0")
    digits = ((n[:, _DATE_DIGITS] >= 0) & (n[:, _DATE_DIGITS] <= 9)).all(axis=1)
    shape = (end - start == 10) & digits & (window[:, 2] == _SLASH) & (window[:, 5] == _SLASH)
    day, month = n[:, 0] * 10 + n[:, 1], n[:, 3] * 10 + n[:, 4]
    year = n[:, 6] * 1000 + n[:, 7] * 100 + n[:, 8] * 10 + n[:, 9]
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = _MONTH_DAYS[np.clip(month, 0, 12)] + (leap & (month == 2))
    return shape & (month >= 1) & (month <= 12) & (year >= 1) & (day >= 1) & (day <= days)


class BulkTable:
    """One CSV table's body read in bulk (see the module docstring).

    ``checks`` and ``parsed_records`` come from ``apbdes``: the per-row rules by column
    position, and the row-by-row reader to take over with (given text lines, the first line
    number and the previous row).
    """

    def __init__(
        self,
        header: list[str],
        delimiter: str,
        amounts: tuple[int, ...],
        signed: tuple[int, ...],
        dates: tuple[int, ...],
        problem: Callable[[list[str]], tuple[str, str, str] | None],
        parsed_records: Callable[..., Iterator[Record]],
        first_line: int = 2,
    ) -> None:
        self.width, self.delimiter = len(header), delimiter
        self.sep = ord(delimiter)
        self.amounts, self.signed, self.dates = amounts, signed, dates
        self.problem, self.parsed_records = problem, parsed_records
        self.line = first_line  # number of the next line
        # The previous row, for repeats: its line as received and without quotes, and the
        # line number a repeat of it is reported against (its own, or the one it repeats).
        self.previous: tuple[bytes, bytes] | None = None
        self.previous_origin = 0
        self.eol = b""  # the line end of the COPY data, set by the first block sent
        self.limit = limits().field_chars  # a longer value is looked at row by row
        self.cap = self.width * (self.limit + 3) + 2  # as landing.Rows' longest line

    # -- reading ----------------------------------------------------------------------------

    def chunks(self, body: IO[bytes], batch_id: int) -> Iterator[Chunk]:
        """Chunks of the table body (the stream is positioned after the header line)."""
        prefix = f"{batch_id}{self.delimiter}".encode()
        rest = b""
        while True:
            data = body.read(BLOCK)
            block = rest + data
            # Whole lines only; at the end, the last line even without a line break.
            cut = block.rfind(b"\n") + 1 if data else len(block)
            block, rest = block[:cut], block[cut:]
            if len(rest) > self.cap:  # no line end in sight: not the bulk path's to judge
                yield from self._row_by_row(block, rest, body, prefix)
                return
            if block:
                try:
                    yield self._plain_block(block, prefix)
                except _NotPlain:
                    yield from self._row_by_row(block, rest, body, prefix)
                    return
            if not data:
                return

    def _row_by_row(self, block: bytes, rest: bytes, body: IO[bytes],
                    prefix: bytes) -> Iterator[Chunk]:
        """The rest of the table through the row-by-row reader, good rows written as CSV."""
        stream = io.BufferedReader(_Joined(block + rest, body))
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
        previous = None
        if self.previous is not None:
            previous = self._fields(self.previous[0])
        records = self.parsed_records(text, self.line, previous, self.previous_origin)
        out = io.StringIO()
        # Every value quoted: a carriage return in a value must not read as a line end.
        writer = csv.writer(out, delimiter=self.delimiter,
                            lineterminator=(self.eol or b"\n").decode(), quoting=csv.QUOTE_ALL)
        head = prefix.decode()[:-1]
        rows, rejects = 0, []
        for record in records:
            if record.values is None or record.problem:
                rejects.append(record)
            else:
                writer.writerow((head, record.number, *record.values))
                rows += 1
            if rows + len(rejects) >= 10_000:
                yield Chunk(out.getvalue().encode("utf-8"), rows, rejects)
                out.seek(0)
                out.truncate()
                rows, rejects = 0, []
        if rows or rejects:
            yield Chunk(out.getvalue().encode("utf-8"), rows, rejects)

    # -- one block --------------------------------------------------------------------------

    def _plain_block(self, block: bytes, prefix: bytes) -> Chunk:
        if not block.endswith(b"\n"):  # the last line of a file without a final line break
            block += self.eol or (b"\r\n" if b"\r" in block else b"\n")
        crlf = b"\r" in block
        eol = b"\r\n" if crlf else b"\n"
        if self.eol and eol != self.eol:
            raise _NotPlain  # COPY reads one kind of line end
        if block.startswith(eol) or eol + eol in block:
            raise _NotPlain  # blank lines are no records: the row-by-row reader skips them
        if b"\x00" in block:
            raise _NotPlain
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            raise _NotPlain from None
        a = np.frombuffer(block, dtype=np.uint8)
        ends = np.flatnonzero(a == _LF)
        if crlf:
            returns = np.flatnonzero(a == _CR)
            if len(returns) != len(ends) or (returns != ends - 1).any():
                raise _NotPlain  # a carriage return that is not (all) the line ends
        quotes = np.flatnonzero(a == _QUOTE)
        separators = np.flatnonzero(a == self.sep)
        n = len(ends)
        if len(quotes):
            quote_lines = np.searchsorted(ends, quotes)
            separators = self._outside_quotes(a, quotes, quote_lines, separators)
        fields = self.width - 1
        if len(separators) != n * fields:
            raise _NotPlain
        starts = np.empty(n, dtype=np.int64)
        starts[0], starts[1:] = 0, ends[:-1] + 1
        if (ends - starts).max(initial=0) > self.limit:  # only then can a value be longer
            bounds = np.sort(np.concatenate((starts - 1, separators, ends)))
            if (np.diff(bounds) - 1).max(initial=0) > self.limit:
                raise _NotPlain  # a value over the field limit: rejected row by row, by name
        grid = separators.reshape(n, fields)
        if fields and ((grid[:, -1] >= ends).any() or (grid[:, 0] < starts).any()):
            raise _NotPlain  # the right number of separators, not on the right lines
        ends_of_values = ends - 1 if crlf else ends

        def field(i: int) -> tuple[np.ndarray, np.ndarray]:
            return (starts if i == 0 else grid[:, i - 1] + 1,
                    ends_of_values if i == fields else grid[:, i])

        good = np.ones(n, dtype=bool)
        padded = _padded(a) if self.amounts or self.signed or self.dates else a
        for i in self.amounts:
            good &= _canonical_amounts(a, padded, *field(i), signed=False)
        for i in self.signed:
            good &= _canonical_amounts(a, padded, *field(i), signed=True)
        for i in self.dates:
            good &= _valid_dates(a, padded, *field(i))
        lines = block.splitlines(keepends=True)  # only \n and \r\n end lines here
        # A row can only repeat the one before it if their text without quotes is equal: the
        # lines whose length and byte sum without quotes equal the line before's (about one
        # in a hundred) are compared so, and those equal are parsed and compared.
        length = ends - starts
        total = np.add.reduceat(a, starts, dtype=np.int64)
        if len(quotes):
            per_line = np.bincount(quote_lines, minlength=n)
            length, total = length - per_line, total - _QUOTE * per_line
        alike = np.flatnonzero((length[1:] == length[:-1]) & (total[1:] == total[:-1])) + 1
        repeats = {i for i in alike.tolist()
                   if lines[i].replace(b'"', b"") == lines[i - 1].replace(b'"', b"")}
        stripped_last = lines[-1].replace(b'"', b"")
        first_repeats = self.previous is not None and (
            lines[0].replace(b'"', b"") == self.previous[1])
        look = set(np.flatnonzero(~good).tolist()) | repeats
        if first_repeats:
            look.add(0)
        first = self.line
        rejects: list[Record] = []
        dropped: set[int] = set()
        origin: dict[int, int] = {}  # line index -> line number of the row it repeats
        for i in sorted(look):
            values = self._fields(lines[i])
            number = first + i
            if i == 0:
                repeat, before_origin = first_repeats, self.previous_origin
                before = self.previous[0] if first_repeats and self.previous else b""
            else:
                repeat, before_origin = i in repeats, origin.get(i - 1, first + i - 1)
                before = lines[i - 1]
            if repeat and values == self._fields(before):
                origin[i] = before_origin
                dropped.add(i)
                rejects.append(Record(number, None, self._as_received(values),
                                      f"duplicate of the record on line {before_origin}"))
                continue
            if not good[i]:
                found = self.problem(values)
                if found is not None:
                    reason, column, value = found
                    dropped.add(i)
                    rejects.append(Record(number, None, self._as_received(values), reason,
                                          column, value))
        line_format = prefix + b"%d" + self.delimiter.encode() + b"%b"
        if dropped:
            data = b"".join([line_format % (first + i, line) for i, line in enumerate(lines)
                             if i not in dropped])
        else:
            data = b"".join([line_format % pair for pair in enumerate(lines, first)])
        last = n - 1
        self.previous = (lines[last], stripped_last)
        self.previous_origin = origin.get(last, first + last)
        self.line = first + n
        self.eol = eol
        return Chunk(data, n - len(dropped), rejects)

    def _outside_quotes(self, a: np.ndarray, quotes: np.ndarray, quote_lines: np.ndarray,
                        separators: np.ndarray) -> np.ndarray:
        """The separators outside quotes, after checking that every quote opens a field,
        closes it, or is doubled inside it, and that no quoted value spans lines."""
        if len(quotes) % 2:
            raise _NotPlain
        opens, closes = quotes[0::2], quotes[1::2]
        if (quote_lines[0::2] != quote_lines[1::2]).any():
            raise _NotPlain
        before = a[np.maximum(opens - 1, 0)]
        after = a[closes + 1]  # a closing quote is never the block's last byte (a line break)
        previous_close = np.concatenate(([-2], closes[:-1]))
        next_open = np.concatenate((opens[1:], [-2]))
        opens_field = (opens == 0) | (before == self.sep) | (before == _LF) | (
            opens - 1 == previous_close)
        closes_field = (after == self.sep) | (after == _LF) | (after == _CR) | (
            closes + 1 == next_open)
        if not (opens_field.all() and closes_field.all()):
            raise _NotPlain
        # Separators between an opening and its closing quote are part of the value.
        count = len(separators)
        first, past = np.searchsorted(separators, opens), np.searchsorted(separators, closes)
        depth = np.cumsum(np.bincount(first, minlength=count + 1)
                          - np.bincount(past, minlength=count + 1))[:count]
        return separators[depth == 0]

    def _fields(self, line: bytes) -> list[str]:
        return next(csv.reader([line.decode("utf-8")], delimiter=self.delimiter))

    def _as_received(self, fields: list[str]) -> str:
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.delimiter, lineterminator="").writerow(fields)
        return buf.getvalue()


class _Joined(io.RawIOBase):
    """Bytes already read, then the rest of a stream: what the row-by-row reader reads."""

    def __init__(self, head: bytes, tail: IO[bytes]) -> None:
        self.head, self.tail = memoryview(head), tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.head:
            size = min(len(buffer), len(self.head))
            buffer[:size] = self.head[:size]
            self.head = self.head[size:]
            return size
        data = self.tail.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
