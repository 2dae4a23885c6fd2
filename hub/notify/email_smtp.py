"""The email channel: plain-text UTF-8 mail over SMTP (smtplib), optionally STARTTLS or SSL and a login."""

from __future__ import annotations

import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from hub.domain.notifications.settings import EmailSettings
from hub.notify.base import Outgoing, SendError


class SmtpChannel:
    name = "email"

    def __init__(self, settings: EmailSettings, *, from_name: str, site_id: str, password: str = "") -> None:
        self.settings = settings
        self.from_name = settings.from_name or from_name
        self.site_id = site_id
        self.password = password or settings.password

    def build(self, message: Outgoing) -> EmailMessage:
        """The mail for one outbox row; its Message-ID comes from the row, so a resend is recognisable."""
        mail = EmailMessage()  # the default policy encodes a Vietnamese subject and name as RFC 2047
        user, _, domain = self.settings.from_address.partition("@")
        mail["From"] = Address(self.from_name, user, domain)
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<clinicq.{self.site_id}.{message.id}@{domain}>"
        mail["Content-Language"] = message.language
        mail.set_content(message.body, charset="utf-8")
        return mail

    def send(self, message: Outgoing) -> str | None:
        mail = self.build(message)
        try:
            with self._connect() as smtp:
                if self.settings.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.settings.username:
                    smtp.login(self.settings.username, self.password)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            # 5xx: the server will never take this address; 4xx (mailbox busy, greylisting): try later.
            raise SendError(f"recipient refused: {_first_reply(exc.recipients)}",
                            permanent=all(code >= 500 for code in codes)) from None
        except smtplib.SMTPDataError as exc:
            raise SendError(f"message refused: {exc.smtp_code} {_decode(exc.smtp_error)}",
                            permanent=exc.smtp_code >= 500) from None
        except smtplib.SMTPResponseException as exc:
            # Login or sender refused: the site's settings are wrong, not this message; retried once fixed.
            raise SendError(f"SMTP error {exc.smtp_code} {_decode(exc.smtp_error)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP server {self.settings.host}:{self.settings.port} unreachable: {exc}") from None
        return str(mail["Message-ID"])

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self.settings.host, self.settings.port, self.settings.timeout_s
        if self.settings.security == "ssl":
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        return smtplib.SMTP(host, port, timeout=timeout)


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _first_reply(recipients: dict[str, tuple[int, bytes]]) -> str:
    for address, (code, text) in recipients.items():
        return f"{address}: {code} {_decode(text)}"
    return "no recipient accepted"
