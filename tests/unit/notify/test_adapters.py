"""The webhook adapter against httpx.MockTransport, the e-mail's form, and the settings' errors."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from pydantic import ValidationError

from mallbridge_notify.adapters.smtp import build_email
from mallbridge_notify.adapters.webhook import WebhookSender
from mallbridge_notify.config import NotifySettings, SmtpSettings
from mallbridge_notify.domain.alerts import alert_for
from mallbridge_notify.domain.messages import render
from mallbridge_notify.ports import DeliveryError
from tests.unit.notify.fakes import needed, tenant

ACME = tenant("acme")
SECRET_PART = "T0K3N"  # in the fake tenant's webhook URL
MESSAGE = render(alert_for(needed("acme", "FC-7")), console_base_url="https://c.example")  # type: ignore[arg-type]


def sender(handler: httpx.MockTransport) -> WebhookSender:
    return WebhookSender(timeout_s=2, transport=handler)


async def test_the_webhook_gets_slack_json_at_the_tenants_url() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="ok")

    webhook = sender(httpx.MockTransport(answer))
    await webhook.send(ACME, MESSAGE)
    await webhook.close()
    assert str(seen[0].url) == "https://hooks.example/acme/T0K3N"
    body = json.loads(seen[0].content)
    assert body["text"].startswith("Attention needed: order FC-7")
    assert MESSAGE.link in body["text"]
    assert seen[0].headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (lambda r: httpx.Response(500), "webhook answered HTTP 500"),
        (lambda r: httpx.Response(404, text=f"no such hook {r.url}"), "webhook answered HTTP 404"),
        (lambda r: (_ for _ in ()).throw(httpx.ConnectError(f"cannot reach {r.url}")), "unreachable (ConnectError)"),
        (lambda r: (_ for _ in ()).throw(httpx.ReadTimeout(f"slow {r.url}")), "unreachable (ReadTimeout)"),
    ],
    ids=["500", "404", "connect", "timeout"],
)
async def test_a_failed_webhook_raises_without_the_url(answer, expected: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    webhook = sender(httpx.MockTransport(answer))
    with pytest.raises(DeliveryError) as caught:
        await webhook.send(ACME, MESSAGE)
    await webhook.close()
    assert expected in str(caught.value)
    assert caught.value.__cause__ is None  # not chained to httpx's error, whose text may hold the URL
    assert SECRET_PART not in str(caught.value)
    assert SECRET_PART not in repr(caught.value)
    assert SECRET_PART not in caplog.text


def test_the_email_has_one_line_headers_and_the_console_link() -> None:
    mail = build_email(sender="mallbridge@acme.example", recipient="ops@acme.example", message=MESSAGE)
    assert mail["To"] == "ops@acme.example"
    assert mail["From"] == "mallbridge@acme.example"
    assert mail["Subject"].startswith("[mallbridge] Attention needed: order FC-7")
    assert MESSAGE.link in mail.get_content()


def test_settings_errors_name_the_field() -> None:
    with pytest.raises(ValidationError, match="console_base_url"):
        NotifySettings(console_base_url="console.example")
    with pytest.raises(ValidationError, match="tls"):
        SmtpSettings(tls="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="from_address"):
        SmtpSettings(from_address="not an address")
    assert NotifySettings(lanes=" default, big ,").lane_names() == ("default", "big")


def test_smtp_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLBRIDGE_SMTP_HOST", "smtp.example")
    monkeypatch.setenv("MALLBRIDGE_SMTP_PASSWORD", "pa55word")
    monkeypatch.setenv("MALLBRIDGE_SMTP_FROM", "alerts@acme.example")
    settings = SmtpSettings()
    assert (settings.host, settings.from_address) == ("smtp.example", "alerts@acme.example")
    assert "pa55word" not in repr(settings)
    assert "pa55word" not in str(settings.model_dump())


@pytest.mark.parametrize(("header", "expected"), [("2", 2.0), ("0.5", 0.5), ("99999", 300.0), ("soon", None)])
async def test_a_rate_limited_webhook_says_how_long_to_wait(header: str, expected: float | None) -> None:
    webhook = sender(httpx.MockTransport(lambda r: httpx.Response(429, headers={"Retry-After": header})))
    with pytest.raises(DeliveryError, match="HTTP 429") as caught:
        await webhook.send(ACME, MESSAGE)
    await webhook.close()
    assert caught.value.retry_after_s == expected
