"""Email backends for tests that count, in the test process, what a worker process sent."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.filebased import EmailBackend as FileBackend

SEPARATOR = b"-" * 79 + b"\n"


class SlowFileBackend(FileBackend):
    """The file backend with an SMTP-like delay before each message is written.

    The delay comes before the write, as with a mail server that accepts a message only at the
    end of the conversation, so a process killed during it has sent nothing.
    """

    delay = 0.005

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        time.sleep(self.delay * len(email_messages))
        return int(super().send_messages(email_messages))


def sent_messages(directory: Path) -> Iterator[Message]:
    """Every message the file backends wrote into `directory`, duplicates included."""
    for path in sorted(directory.glob("*.log")):
        for chunk in path.read_bytes().split(SEPARATOR):
            if chunk.strip():
                yield message_from_bytes(chunk)


def recipients(directory: Path) -> list[Any]:
    return [message["To"] for message in sent_messages(directory)]
