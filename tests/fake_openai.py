"""OpenAI-compatible servers on 127.0.0.1 for the hosted-model tests.

FakeOpenAI answers /chat/completions with the fake learner's replies and reports a model id
of its choosing. FaultProxy stands in front of any OpenAI-compatible server and fails a seeded
share of requests the ways hosted providers do: 429 with Retry-After, 500, 503, a reply slower
than the client's timeout, a reset connection, and a 200 whose JSON is cut short.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from promptc.lm.fake import FakeProvider

FAULTS = ("429", "500", "503", "timeout", "reset", "truncated")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def start(self) -> str:
        """Serve in a daemon thread; returns the base URL (with /v1)."""
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"
        return self.url

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()

    def __enter__(self) -> _Server:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    def _read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no request log on stderr."""


class FakeOpenAI(_Server):
    """Serves /chat/completions with the fake learner's replies; can fail the next requests."""

    def __init__(self, model: str = "snapshot-1", fingerprint: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _ChatHandler)
        self.model = model  # the id every reply reports, like a provider's snapshot id
        self.fingerprint = fingerprint
        self.requests: list[dict[str, Any]] = []
        self.served: list[
            tuple[float, int]
        ] = []  # (time.monotonic() on arrival, tokens) per answered request
        self.authorizations: list[str | None] = []
        self.failures: list[int] = []  # status codes for the next requests
        self.retry_after: dict[str, str] = {}  # headers sent with an injected 429 (any status: retry_all)
        self.retry_all = False
        self.echo_authorization = False  # injected errors repeat the request's headers, as some proxies do
        self.reported_model: Any = ...  # a reply's `model` field when set (None: null), else self.model
        self.logprobs = True  # answers logprobs requests (False: ignores them, as some servers do)
        self.answer_alternatives: list[tuple[str, float]] | None = None  # top_logprobs of the answer token
        self.latency_s = 0.0  # added before every reply, like a hosted model's time to answer
        self.reply_text: str | None = None  # every reply's text, in place of the fake learner's answer
        # Counts a request's prompt tokens as the provider would (default: the fake's word count).
        self.count_prompt: Callable[[list[dict[str, str]]], int] | None = None


class _ChatHandler(_Handler):
    server: FakeOpenAI

    def do_POST(self) -> None:
        arrived = time.monotonic()
        body = json.loads(self._read_body())
        self.server.requests.append(body)
        self.server.authorizations.append(self.headers.get("Authorization"))
        if self.server.failures:
            status = self.server.failures.pop(0)
            message = f"injected {status}"
            if status == 401:  # as some providers do: the rejected key, in full, in the message
                message += f": invalid key {self.headers.get('Authorization', '').removeprefix('Bearer ')}"
            elif self.server.echo_authorization:
                message += f" for a request with Authorization: {self.headers.get('Authorization')}"
            error = {"error": {"message": message, "type": "server_error"}}
            retry = status == 429 or self.server.retry_all
            self._send(status, json.dumps(error).encode(), self.server.retry_after if retry else {})
            return
        if self.server.latency_s:
            time.sleep(self.server.latency_s)
        text, prompt_tokens, completion_tokens = FakeProvider().complete("learner", body["messages"], {})
        text = text if self.server.reply_text is None else self.server.reply_text
        if self.server.count_prompt is not None:
            prompt_tokens = self.server.count_prompt(body["messages"])
        reply = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": self.server.model if self.server.reported_model is ... else self.server.reported_model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        self.server.served.append((arrived, prompt_tokens + completion_tokens))
        if self.server.fingerprint is not None:
            reply["system_fingerprint"] = self.server.fingerprint
        if body.get("logprobs") and self.server.logprobs:
            reply["choices"][0]["logprobs"] = {"content": self._token_logprobs(text, body["top_logprobs"])}
        self._send(200, json.dumps(reply).encode())

    def _token_logprobs(self, text: str, top: int) -> list[dict[str, Any]]:
        """The reply split into word and punctuation tokens; the token after the first colon gets
        the server's answer alternatives, every other token only itself."""
        tokens = re.findall(r"\s*\w+|\s*[^\w\s]", text)
        out, answered = [], False
        for i, token in enumerate(tokens):
            alternatives = [(token, -0.01)]
            if not answered and i > 0 and tokens[i - 1].strip() == ":":
                alternatives, answered = list(self.server.answer_alternatives or [(token, -0.01)]), True
            tops = [{"token": t, "logprob": lp} for t, lp in alternatives[:top]]
            out.append({"token": token, "logprob": tops[0]["logprob"], "top_logprobs": tops})
        return out


class FaultProxy(_Server):
    """Forwards to upstream, failing about `rate` of requests (seeded, at most `max_run` in a row
    for one request body, so a client with enough retries always gets through).

    Whether an attempt fails depends only on (seed, body, attempt number for that body), not on
    thread timing, so a run's faults are the same every time.
    """

    def __init__(
        self, upstream: str, rate: float, seed: int, *, hang_s: float = 2.0, max_run: int = 3
    ) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream.rstrip("/").removesuffix("/v1")
        self.rate, self.seed, self.hang_s, self.max_run = rate, seed, hang_s, max_run
        self.attempts: dict[str, int] = {}
        self.injected: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self.forwarded = 0
        self._lock = threading.Lock()

    def fault_for(self, body: bytes) -> str | None:
        """The fault for this attempt at this body, or None to forward it."""
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            attempt = self.attempts.get(digest, 0)
            self.attempts[digest] = attempt + 1
            draw = hashlib.sha256(f"{self.seed}:{digest}:{attempt}".encode()).digest()
            (u,) = struct.unpack(">Q", draw[:8])
            if attempt >= self.max_run or u / 2**64 >= self.rate:
                self.forwarded += 1
                return None
            fault = FAULTS[draw[8] % len(FAULTS)]
            self.injected[fault] += 1
            return fault


class _ProxyHandler(_Handler):
    server: FaultProxy

    def do_POST(self) -> None:
        body = self._read_body()
        fault = self.server.fault_for(body)
        if fault == "reset":
            # SO_LINGER with a zero timeout: close() sends RST, as a dropped connection does.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault == "timeout":
            time.sleep(self.server.hang_s)  # longer than the client's timeout; then nothing
            self.close_connection = True
            return
        if fault in ("429", "500", "503"):
            error = json.dumps({"error": {"message": f"injected {fault}", "type": "server_error"}})
            headers = {"Retry-After": "0", "retry-after-ms": "20"} if fault == "429" else {}
            self._send(int(fault), error.encode(), headers)
            return
        host, port = self.server.upstream.removeprefix("http://").split(":")
        upstream = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            headers = {
                k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")
            }
            upstream.request("POST", self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            status, data = answer.status, answer.read()
        finally:
            upstream.close()
        if fault == "truncated":
            data = data[: len(data) // 2]
        self._send(status, data)
