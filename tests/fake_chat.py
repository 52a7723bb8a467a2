"""An OpenAI-compatible ``chat/completions`` server on 127.0.0.1 for tests and benchmarks: the
HTTP side once, the scripted answers in subclasses.

A subclass implements ``answer(body, path) -> (status, choices)``, ``choices`` being
``(content, finish_reason)`` pairs; ``record(body, path, headers)`` says what ``requests`` keeps
of each request (the body, by default)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    def __init__(self):
        self.requests: list = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(server.record(body, self.path, self.headers))
                    status, choices = server.answer(body, self.path)
                if status != 200:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b"no")
                    return
                payload = {"id": "x", "object": "chat.completion", "model": body.get("model"),
                           "choices": [{"index": i, "message": {"role": "assistant", "content": content},
                                        "finish_reason": reason} for i, (content, reason) in enumerate(choices)]}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def record(self, body: dict, path: str, headers) -> object:
        return body

    def answer(self, body: dict, path: str) -> tuple:
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
