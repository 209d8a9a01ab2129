"""A client that floods a WebSocket with small frames, as fast as it can, for a while.

    python -m tests.support.flood ws://127.0.0.1:8000/ws/events/ http://127.0.0.1:8000 10

When the server closes the socket it reconnects at once, to keep the pressure on. It prints one
JSON line: connections made, frames sent, and how each socket ended (close code, or the error).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin

FRAME = '{"type":"ping"}'


def flood(url: str, origin: str, seconds: float) -> dict[str, object]:
    ends: Counter[str] = Counter()
    connections = frames = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with connect(url, origin=Origin(origin), open_timeout=10, close_timeout=1) as ws:
                connections += 1
                while time.monotonic() < deadline:
                    ws.send(FRAME)
                    frames += 1
                ends["still open at the end"] += 1
        except ConnectionClosed as closed:
            ends[str(closed.rcvd.code) if closed.rcvd else "no close frame"] += 1
        except (OSError, TimeoutError) as error:
            ends[type(error).__name__] += 1
    return {"connections": connections, "frames": frames, "ends": dict(ends)}


if __name__ == "__main__":
    # The program's result is its stdout: the test that runs it reads the JSON from there.
    print(json.dumps(flood(sys.argv[1], sys.argv[2], float(sys.argv[3]))))  # noqa: T201
