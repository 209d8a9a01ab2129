"""A real webhook receiver for tests: an http.server in a thread that answers the statuses it is
told to, and keeps every request it got (headers and raw body)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    # Verified on arrival, as a receiver does, with the secret registered for the path.
    verified_on_arrival: bool | None = None

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> Any:
        """The JSON payload, or WebhookVerificationError when the signature does not match."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.statuses: deque[int] = deque()
        self.secrets: dict[str, str] = {}
        # (arrived, release): the next request sets `arrived`, then hangs until `release`.
        self.held: tuple[threading.Event, threading.Event] | None = None
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    held, receiver.held = receiver.held, None
                if held is not None:
                    arrived, release = held
                    arrived.set()
                    release.wait(60)
                headers = {key.lower(): value for key, value in self.headers.items()}
                request = Request(self.path, headers, body)
                secret = receiver.secrets.get(self.path)
                if secret is not None:
                    try:
                        request.verified(secret)
                        request = Request(self.path, headers, body, True)
                    except WebhookVerificationError:
                        request = Request(self.path, headers, body, False)
                with receiver.lock:
                    receiver.requests.append(request)
                    status = receiver.statuses.popleft() if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def answer(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, then 200."""
        self.statuses.extend(statuses)

    def hold_next(self) -> tuple[threading.Event, threading.Event]:
        """Make the next request hang: returns (arrived, release) events."""
        self.held = (threading.Event(), threading.Event())
        return self.held

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
