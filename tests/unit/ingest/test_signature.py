"""HMAC push signatures: accepted only with the right secret, body and a timestamp inside ±300 s."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from mallbridge_ingest.adapters.signature import SignatureError, sign, verify

NOW = 1_800_000_000
BODY = b'{"orders":[]}'


def check(**overrides: object) -> None:
    args: dict[str, object] = {"secret": "s3cret", "timestamp": str(NOW), "body": BODY, "now_unix": float(NOW)}
    args["signature"] = sign("s3cret", NOW, BODY)
    args.update(overrides)
    verify(**args)  # type: ignore[arg-type]


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", NOW, BODY) == f"sha256={expected}"


def test_a_good_signature_passes_also_in_upper_case_hex() -> None:
    check()
    check(signature="sha256=" + sign("s3cret", NOW, BODY).removeprefix("sha256=").upper())


@pytest.mark.parametrize("skew", [-300, 0, 299, 300])
def test_timestamps_inside_the_window_pass(skew: int) -> None:
    ts = NOW - skew
    check(timestamp=str(ts), signature=sign("s3cret", ts, BODY))


@pytest.mark.parametrize(("skew", "word"), [(301, "older"), (10_000, "older"), (-301, "future"), (-86_400, "future")])
def test_stale_and_far_future_timestamps_fail(skew: int, word: str) -> None:
    ts = NOW - skew
    with pytest.raises(SignatureError, match=word):
        check(timestamp=str(ts), signature=sign("s3cret", ts, BODY))


@pytest.mark.parametrize(
    "overrides",
    [
        {"secret": "other"},
        {"body": BODY + b" "},
        {"signature": "sha256=" + "0" * 64},
        {"signature": "md5=abc"},
        {"signature": "sha256=ünïcode"},
        {"signature": None},
        {"timestamp": None},
        {"timestamp": ""},
        {"timestamp": "12.5"},
        {"timestamp": "-5"},
        {"timestamp": "1e9"},
        {"timestamp": str(NOW + 1)},  # signed for NOW, sent with another timestamp
    ],
)
def test_wrong_or_missing_parts_fail(overrides: dict[str, object]) -> None:
    with pytest.raises(SignatureError):
        check(**overrides)


def test_error_messages_never_contain_the_secret_or_expected_digest() -> None:
    with pytest.raises(SignatureError) as caught:
        check(secret="topsecret-value")
    assert "topsecret" not in str(caught.value)
    assert sign("topsecret-value", NOW, BODY).removeprefix("sha256=") not in str(caught.value)
