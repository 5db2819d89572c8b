"""HTTP/1.1 framing of the MALL client's transport, on bytes: what a whole answer is, and what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mallbridge_publisher.adapters.http1_wire import Answer, WireError, encode_request, parse_answer


def parse(raw: bytes, *, method: bytes = b"PUT", closed: bool = False) -> tuple[Answer, int] | None:
    return parse_answer(raw, method=method, closed=closed)


def whole(raw: bytes, **kwargs: object) -> Answer:
    parsed = parse(raw, **kwargs)  # type: ignore[arg-type]
    assert parsed is not None
    return parsed[0]


def test_a_request_is_its_line_its_headers_and_its_body() -> None:
    raw = encode_request(b"PUT", b"/v1/orders/1?client_id=x", [(b"Host", b"mall"), (b"Content-Length", b"2")], b"{}")
    assert raw == b"PUT /v1/orders/1?client_id=x HTTP/1.1\r\nHost: mall\r\nContent-Length: 2\r\n\r\n{}"


def test_a_chunked_request_body_is_sent_as_one_chunk() -> None:
    raw = encode_request(b"POST", b"/", [(b"Transfer-Encoding", b"chunked")], b"abc")
    assert raw.endswith(b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert encode_request(b"POST", b"/", [(b"Transfer-Encoding", b"chunked")], b"").endswith(b"\r\n\r\n0\r\n\r\n")


@pytest.mark.parametrize("header", [(b"X-A", b"1\r\nX-B: 2"), (b"X-A\n", b"1"), (b"X:A", b"1")])
def test_a_header_that_would_split_the_request_is_refused(header: tuple[bytes, bytes]) -> None:
    with pytest.raises(WireError):
        encode_request(b"GET", b"/", [header], b"")


def test_content_length_frames_the_body_and_what_follows_is_left() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\nhelloHTTP/1.1"
    parsed = parse(raw)
    assert parsed is not None
    answer, used = parsed
    assert (answer.status, answer.reason, answer.body, answer.reusable) == (200, b"OK", b"hello", True)
    assert answer.headers == [(b"Content-Length", b"5"), (b"Content-Type", b"application/json")]
    assert raw[used:] == b"HTTP/1.1"


def test_an_incomplete_answer_waits_while_open_and_fails_once_closed() -> None:
    for partial in (b"HTTP/1.1 200 OK\r\nContent-Len", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"):
        assert parse(partial) is None
        with pytest.raises(WireError, match="closed"):
            parse(partial, closed=True)
    with pytest.raises(WireError, match="closed before a whole response head"):
        parse(b"", closed=True)


def test_chunked_bodies_are_joined_with_extensions_and_trailers() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw = head + b"4;ext=1\r\nabcd\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n"
    answer, used = parse(raw) or pytest.fail("incomplete")
    assert (answer.body, used, answer.reusable) == (b"abcd0123456789", len(raw), True)
    assert parse(raw[:-1]) is None


def test_a_body_without_length_ends_with_the_connection_and_is_not_reused() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"
    assert parse(raw) is None
    answer = whole(raw, closed=True)
    assert (answer.body, answer.reusable) == (b"all of it", False)


@pytest.mark.parametrize(
    ("head", "reusable"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n", False),
        (b"HTTP/1.0 200 OK\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n", True),
    ],
)
def test_only_an_http11_answer_without_close_leaves_the_connection_reusable(head: bytes, reusable: bool) -> None:
    assert whole(head + b"Content-Length: 0\r\n\r\n").reusable is reusable


def test_no_body_after_head_204_and_304_whatever_the_headers_say() -> None:
    assert whole(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method=b"HEAD").body == b""
    for status in (b"204 No Content", b"304 Not Modified"):
        answer = whole(b"HTTP/1.1 " + status + b"\r\nContent-Length: 10\r\n\r\n")
        assert answer.body == b""
        assert answer.reusable


def test_interim_answers_are_skipped_for_the_final_one() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    raw = interim + b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    answer = whole(raw)
    assert (answer.status, answer.body) == (201, b"ok")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"HTTP/2 200 OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 abc OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed"),
        (b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n", "malformed"),
        (b"HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n", "malformed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", "32 MiB"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "transfer coding"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "hexadecimal"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\n", "hexadecimal"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "CRLF"),
    ],
)
def test_what_is_not_http11_is_a_wire_error_naming_why(raw: bytes, why: str) -> None:
    with pytest.raises(WireError, match=why):
        parse(raw)


def test_a_head_that_never_ends_is_refused_past_64_kib() -> None:
    with pytest.raises(WireError, match="64 KiB"):
        parse(b"HTTP/1.1 200 OK\r\n" + b"X-A: " + b"a" * 70_000)


@st.composite
def chunked_answers(draw: st.DrawFn) -> tuple[bytes, bytes]:
    chunks = draw(st.lists(st.binary(min_size=1, max_size=40), max_size=6))
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body, b"".join(chunks)


@given(chunked_answers(), st.data())
def test_an_answer_split_anywhere_is_whole_only_once_its_last_byte_came(
    case: tuple[bytes, bytes], data: st.DataObject
) -> None:
    raw, body = case
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    assert parse(raw[:cut]) is None
    answer, used = parse(raw + b"HTTP/1.1 204 No Content\r\n\r\n") or pytest.fail("incomplete")
    assert (answer.body, used) == (body, len(raw))


@given(st.binary(max_size=200), st.data())
def test_a_content_length_answer_split_anywhere_is_whole_only_at_its_end(body: bytes, data: st.DataObject) -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    assert parse(raw[:cut]) is None
    assert whole(raw).body == body
