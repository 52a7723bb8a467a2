"""A client for OpenAI-compatible chat servers, with a response cache (shared by ``sql`` and ``instruct``).

The client speaks ``POST /v1/chat/completions`` (vLLM, llama.cpp's server, TGI, a hosted API …)
with urllib only: retries with back-off on timeouts, connection errors, 408/409/429 and 5xx, a
per-request timeout, and ``n`` choices per conversation (a server that returns fewer is asked
again until there are ``n``). Concurrency comes from the pipeline: each worker thread has its own
client.

The response cache makes reruns deterministic: the answer to a request (model, messages, ``n``,
temperature, max_tokens, seed — never the endpoint or the key) is stored under the SHA-256 of
that request, one JSON file each, written atomically (a temporary file renamed into place), so
concurrent workers never see half a file and a second run with the same inputs asks the server
nothing and gets byte-identical answers. Any fsspec URL works (``gs://bucket/llm-cache``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Optional

import fsspec


class LLMError(RuntimeError):
    pass


@dataclass(frozen=True)
class Choice:
    content: str
    finish_reason: Optional[str] = None   # "stop", "length" (truncated) …


def chat_url(endpoint: str) -> str:
    """``http://host:8000`` / ``…/v1`` / ``…/v1/chat/completions`` -> the completions URL."""
    base = endpoint.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if base.endswith("/v1"):
        return base + "/chat/completions"
    return base + "/v1/chat/completions"


class ResponseCache:
    """Answers by request hash under ``root`` (a folder or fsspec URL)."""

    def __init__(self, root: str):
        self.root = root.rstrip("/")
        self.fs, self.path = fsspec.core.url_to_fs(self.root)

    @staticmethod
    def key(request: dict) -> str:
        return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

    def _file(self, key: str) -> str:
        return f"{self.path}/{key[:2]}/{key}.json"

    def get(self, request: dict) -> Optional[list]:
        path = self._file(self.key(request))
        try:
            with self.fs.open(path, "r", encoding="utf-8") as f:
                stored = json.load(f)
        except (FileNotFoundError, ValueError):
            return None
        return [Choice(c["content"], c.get("finish_reason")) for c in stored["choices"]]

    def put(self, request: dict, choices: list) -> None:
        path = self._file(self.key(request))
        payload = json.dumps({"request": request,
                              "choices": [{"content": c.content, "finish_reason": c.finish_reason} for c in choices]},
                             sort_keys=True, ensure_ascii=False)
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        from fsspec.implementations.local import LocalFileSystem

        if isinstance(self.fs, LocalFileSystem):
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(payload)
            os.replace(tmp, path)  # atomic: readers see the old state or the whole new file
        else:
            with self.fs.open(path, "w", encoding="utf-8") as f:  # object stores publish on close
                f.write(payload)


@dataclass
class ChatClient:
    endpoint: str
    model: str = "default"
    api_key: Optional[str] = None
    timeout_seconds: float = 60.0
    max_retries: int = 2
    max_tokens: int = 512
    seed: Optional[int] = None
    cache: Optional[ResponseCache] = None
    requests: int = 0
    failures: int = 0
    cache_hits: int = 0

    def complete(self, messages: list, n: int = 1, temperature: float = 0.0) -> list:
        """``n`` completions (message contents) for one conversation."""
        return [c.content for c in self.choices(messages, n, temperature)]

    def choices(self, messages: list, n: int = 1, temperature: float = 0.0) -> list:
        """``n`` ``Choice``s (content and finish reason), from the cache when it has them."""
        n = max(1, n)
        request = {"model": self.model, "messages": messages, "n": n, "temperature": temperature,
                   "max_tokens": self.max_tokens, "seed": self.seed}
        if self.cache is not None:
            cached = self.cache.get(request)
            if cached is not None:
                self.cache_hits += 1
                return cached
        out: list = []
        for _ in range(n):  # servers that ignore `n` get asked again
            out.extend(self._request(messages, n - len(out), temperature))
            if len(out) >= n:
                break
        if not out:
            raise LLMError("no choices returned")
        out = out[:n]
        if self.cache is not None:
            self.cache.put(request, out)
        return out

    def _request(self, messages: list, n: int, temperature: float) -> list:
        body = {"model": self.model, "messages": messages, "n": n, "temperature": temperature,
                "max_tokens": self.max_tokens}
        if self.seed is not None:
            body["seed"] = self.seed
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        error = None
        for attempt in range(self.max_retries + 1):
            self.requests += 1
            request = urllib.request.Request(chat_url(self.endpoint), data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                    payload = json.loads(response.read().decode("utf-8"))
                choices = sorted(payload.get("choices") or [], key=lambda c: c.get("index", 0))
                return [Choice((c.get("message") or {}).get("content") or c.get("text") or "", c.get("finish_reason"))
                        for c in choices]
            except urllib.error.HTTPError as e:
                error = f"HTTP {e.code}: {e.read()[:200]!r}"
                if e.code not in (408, 409, 429) and e.code < 500:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError, ValueError,
                    AttributeError) as e:
                error = f"{type(e).__name__}: {e}"
            if attempt < self.max_retries:
                time.sleep(0.25 * 2**attempt)
        self.failures += 1
        raise LLMError(error or "request failed")
