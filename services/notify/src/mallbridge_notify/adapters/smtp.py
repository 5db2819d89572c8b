"""Alerts by e-mail to the tenant's `notify_email` (stdlib smtplib in a worker thread).

SMTP is a short, blocking conversation; one thread per message keeps the event loop free. TLS is
STARTTLS (default), implicit TLS ("ssl") or none (a local relay); login only when a user is set. The
password is never logged, and errors name the SMTP reply code or the kind of failure only.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

from mallbridge_core.tenants import Tenant
from mallbridge_notify.config import SmtpSettings
from mallbridge_notify.domain.alerts import Channel
from mallbridge_notify.domain.messages import AlertMessage
from mallbridge_notify.ports import DeliveryError


def build_email(*, sender: str, recipient: str, message: AlertMessage) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = message.subject
    mail.set_content(message.body)
    return mail


class SmtpSender:
    channel: Channel = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def configured_for(self, tenant: Tenant) -> bool:
        return tenant.notify_email is not None

    def _deliver(self, mail: EmailMessage) -> None:
        s = self._settings
        assert s.host is not None  # checked at startup (bootstrap.check_email_settings)
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if s.tls == "ssl":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        with client:
            if s.tls == "starttls":
                client.starttls(context=context)
            if s.user is not None:
                client.login(s.user, s.password.get_secret_value() if s.password else "")
            client.send_message(mail)

    async def send(self, tenant: Tenant, message: AlertMessage) -> None:
        if tenant.notify_email is None:
            raise DeliveryError(f"tenant {tenant.tenant_id} has no notify_email")
        mail = build_email(sender=self._settings.from_address, recipient=tenant.notify_email, message=message)
        try:
            await asyncio.to_thread(self._deliver, mail)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP server answered {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP failed ({type(exc).__name__})") from None

    async def close(self) -> None:
        return None
