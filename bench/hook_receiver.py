"""A webhook receiver in a process of its own, for bench/webhooks.py: keep-alive HTTP/1.1,
answers 200, verifies each signature with `standardwebhooks` and counts what it got.

    python bench/hook_receiver.py SECRET    # prints the port, then serves

`GET /stats` answers {"requests", "distinct", "unverified"}; `POST /reset` forgets them.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


def serve(secret: str) -> None:
    verifier = Webhook(secret)
    lock = threading.Lock()
    seen: set[str] = set()
    counts = {"requests": 0, "unverified": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.path == "/reset":
                with lock:
                    seen.clear()
                    counts.update(requests=0, unverified=0)
                self.answer(b"")
                return
            headers = {key.lower(): value for key, value in self.headers.items()}
            try:
                verifier.verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
            with lock:
                counts["requests"] += 1
                counts["unverified"] += not verified
                seen.add(headers.get("webhook-id", ""))
            self.answer(b"")

        def do_GET(self) -> None:
            with lock:
                stats = {**counts, "distinct": len(seen)}
            self.answer(json.dumps(stats).encode())

        def answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1])
