"""HTTP/1.1 on the wire, for the MALL client's transport: a request's bytes, and parsing an answer.

Pure (no I/O), so every framing rule is unit-tested on bytes. What it accepts is what RFC 9112 asks a
client to accept: a status line `HTTP/1.x NNN reason`, header fields without obsolete line folding, a
body framed by `Transfer-Encoding: chunked`, by `Content-Length`, or by the end of the connection;
no body after HEAD, 1xx, 204 and 304; interim 1xx answers skipped. Anything else is a `WireError`,
which the transport raises as httpx.RemoteProtocolError (the outcome of the request is then unknown).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 32 * 1024 * 1024  # MALL's largest answers (order pages) are a few hundred kilobytes

RawHeaders = list[tuple[bytes, bytes]]
_HEX_DIGITS = b"0123456789abcdefABCDEF"


class WireError(ValueError):
    """The bytes are not an HTTP/1.1 message this client can read (or send)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One whole response as read off the connection."""

    status: int
    reason: bytes
    headers: RawHeaders
    body: bytes
    reusable: bool  # the connection may carry the next request


def encode_request(method: bytes, target: bytes, headers: RawHeaders, body: bytes) -> bytes:
    """The request's bytes. A chunked body (httpx's framing of a stream of unknown length) is sent as one
    chunk; every other body goes with the Content-Length httpx put in the headers."""
    lines = [method, b" ", target, b" HTTP/1.1\r\n"]
    chunked = False
    for name, value in headers:
        if b"\r" in name or b"\n" in name or b"\r" in value or b"\n" in value or b":" in name:
            raise WireError("a header name or value holds a line break")
        if name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    if chunked:
        lines += (b"%x\r\n" % len(body), body, b"\r\n0\r\n\r\n") if body else (b"0\r\n\r\n",)
    else:
        lines.append(body)
    return b"".join(lines)


def parse_answer(buffer: bytes | bytearray, *, method: bytes, closed: bool) -> tuple[Answer, int] | None:
    """The first whole final response in `buffer` and how many bytes it took, or None while incomplete.

    `closed`: the server has closed its side, so a body framed by the connection's end is complete (and
    a message still incomplete now never will be: WireError).
    """
    start = 0
    while True:
        head_end = buffer.find(b"\r\n\r\n", start)
        if head_end < 0:
            if len(buffer) - start > MAX_HEAD_BYTES:
                raise WireError("the response head is larger than 64 KiB")
            _fail_if_closed(closed, "the connection closed before a whole response head")
            return None
        status, reason, headers, keep_alive = _parse_head(bytes(buffer[start:head_end]))
        body_start = head_end + 4
        if 100 <= status < 200:  # 100 Continue, 103 Early Hints: an interim answer, the final one follows
            start = body_start
            continue
        framed = _body(buffer, body_start, status, headers, method=method, closed=closed)
        if framed is None:
            return None
        body, end, by_close = framed
        return Answer(status, reason, headers, body, keep_alive and not by_close), end


def _fail_if_closed(closed: bool, why: str) -> None:
    """An incomplete message is only waiting for more bytes while the server's side is open."""
    if closed:
        raise WireError(why)


def _parse_head(head: bytes) -> tuple[int, bytes, RawHeaders, bool]:
    status_line, *fields = head.split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise WireError("the status line is not 'HTTP/1.x NNN reason'")
    headers: RawHeaders = []
    for field in fields:
        name, colon, value = field.partition(b":")
        if not colon or not name or name != name.strip() or field[:1] in (b" ", b"\t"):
            raise WireError("a response header line is malformed")
        headers.append((name, value.strip(b" \t")))
    connection = b",".join(v.lower() for n, v in headers if n.lower() == b"connection")
    keep_alive = version == b"HTTP/1.1" and b"close" not in connection
    return int(code), reason, headers, keep_alive


def _body(
    buffer: bytes | bytearray, start: int, status: int, headers: RawHeaders, *, method: bytes, closed: bool
) -> tuple[bytes, int, bool] | None:
    """(body, end offset, framed by the connection's end) or None while incomplete."""
    if method == b"HEAD" or status in (204, 304):
        return b"", start, False
    encodings = b",".join(v.lower() for n, v in headers if n.lower() == b"transfer-encoding")
    if encodings:
        if not encodings.replace(b" ", b"").endswith(b"chunked"):
            raise WireError("a transfer coding other than chunked frames the body")
        return _chunked(buffer, start, closed=closed)
    lengths = {v for n, v in headers if n.lower() == b"content-length"}
    if lengths:
        length = _content_length(lengths)
        if len(buffer) - start < length:
            _fail_if_closed(closed, "the connection closed before the whole body")
            return None
        return bytes(buffer[start : start + length]), start + length, False
    if len(buffer) - start > MAX_BODY_BYTES:
        raise WireError("the response body is larger than 32 MiB")
    if not closed:
        return None
    return bytes(buffer[start:]), len(buffer), True


def _content_length(values: set[bytes]) -> int:
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise WireError("Content-Length is not one decimal number")
    length = int(next(iter(values)))
    if length > MAX_BODY_BYTES:
        raise WireError("the response body is larger than 32 MiB")
    return length


def _chunked(buffer: bytes | bytearray, at: int, *, closed: bool) -> tuple[bytes, int, bool] | None:
    parts: list[bytes] = []
    size_total = 0
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            _fail_if_closed(closed, "the connection closed inside a chunked body")
            return None
        size_text = bytes(buffer[at:line_end]).split(b";", 1)[0].strip()
        if not size_text or size_text.strip(_HEX_DIGITS):
            raise WireError("a chunk size is not a hexadecimal number")
        size = int(size_text, 16)
        size_total += size
        if size_total > MAX_BODY_BYTES:
            raise WireError("the response body is larger than 32 MiB")
        at = line_end + 2
        if size == 0:
            if buffer[at : at + 2] == b"\r\n":
                return b"".join(parts), at + 2, False
            trailers_end = buffer.find(b"\r\n\r\n", at)
            if trailers_end < 0:
                _fail_if_closed(closed, "the connection closed inside a chunked body's trailers")
                return None
            return b"".join(parts), trailers_end + 4, False
        if len(buffer) < at + size + 2:
            _fail_if_closed(closed, "the connection closed inside a chunk")
            return None
        if buffer[at + size : at + size + 2] != b"\r\n":
            raise WireError("a chunk does not end with CRLF")
        parts.append(bytes(buffer[at : at + size]))
        at += size + 2
