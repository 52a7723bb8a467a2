"""Real git servers on 127.0.0.1 for the fetch tests: ``git daemon`` (partial clone on or off),
``git http-backend`` behind a small HTTP server that can also answer 401/404/503 or never answer,
and small repositories built with git itself."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MIT = ("MIT License\n\nCopyright (c) 2024 Acme\n\nPermission is hereby granted, free of charge, to any person "
       "obtaining a copy of this software and associated documentation files (the \"Software\"), to deal in the "
       "Software without restriction, including without limitation the rights to use, copy, modify, merge, publish, "
       "distribute, sublicense, and/or sell copies of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT "
       "WARRANTY OF ANY KIND.\n")


def git(cwd, *args: str, env: dict | None = None) -> str:
    full_env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org",
                "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.org", **(env or {})}
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True,
                          env=full_env).stdout.strip()


def make_repo(path: Path, name: str, commits: int = 4, prefix: str = "") -> list[str]:
    """A work tree whose origin says ``https://github.com/<name>.git``: an initial commit of a
    LICENSE and ``src/app.py``, then ``commits`` single-file changes. Returns the commit ids."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "remote", "add", "origin", f"https://github.com/{name}.git")
    (path / "LICENSE").write_text(MIT)
    (path / "src").mkdir()
    ids = []
    for i in range(commits + 1):
        body = "".join(f"def f{j}(x):\n    return x + {j * (i + 1)}  # {prefix}{name}\n\n" for j in range(6 + i))
        (path / "src" / "app.py").write_text(body)
        git(path, "add", "-A")
        t = 1_700_000_000 + i * 60
        git(path, "commit", "-q", "-m", f"Change the handler for {name} in step {i}\n\nMore words here.",
            env={"GIT_AUTHOR_DATE": f"{t} +0000", "GIT_COMMITTER_DATE": f"{t} +0000"})
        ids.append(git(path, "rev-parse", "HEAD"))
    return ids


def publish(work: Path, root: Path, name: str) -> Path:
    """A bare copy of ``work`` at ``root/<name>.git``... served as ``<name>``."""
    bare = root / name
    bare.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True)
    return bare


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


@contextlib.contextmanager
def git_daemon(root: Path, allow_filter: bool = True):
    """``git daemon`` serving every repository under ``root`` at ``git://127.0.0.1:PORT/<path>``."""
    port = free_port()
    config = root.parent / f"daemon-{port}.gitconfig"
    config.write_text(f"[uploadpack]\n\tallowFilter = {'true' if allow_filter else 'false'}\n")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1"}
    process = subprocess.Popen(["git", "daemon", "--listen=127.0.0.1", f"--port={port}", f"--base-path={root}",
                                "--export-all", "--reuseaddr", str(root)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        yield f"git://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


class HttpGit:
    """Smart HTTP through ``git http-backend``. ``faults`` maps a repository path prefix to a list
    of HTTP statuses answered (one per request, first) before the real answer; ``hang`` paths
    get no answer at all."""

    def __init__(self, root: Path):
        self.root = root
        self.faults: dict[str, list[int]] = {}
        self.hang: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._serve()

            def do_POST(self):
                self._serve()

            def _serve(self):
                path, _, query = self.path.partition("?")
                server.requests.append(path)
                if any(path.startswith(p) for p in server.hang):
                    time.sleep(3600)
                for prefix, statuses in server.faults.items():
                    if path.startswith(prefix) and statuses:
                        status = statuses.pop(0)
                        self.send_response(status)
                        if status == 401:
                            self.send_header("WWW-Authenticate", 'Basic realm="git"')
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(server.root), "GIT_HTTP_EXPORT_ALL": "1",
                       "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
                       "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                       "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""), "REMOTE_ADDR": "127.0.0.1",
                       "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(server.root),
                       "GIT_CONFIG_PARAMETERS": "'uploadpack.allowfilter'='true'"}
                done = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env)
                head, _, payload = done.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.split(b"\r\n"):
                    key, _, value = line.decode("latin-1").partition(":")
                    if key.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif key:
                        headers.append((key, value.strip()))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "HttpGit":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def silent_server():
    """Accepts connections and never answers: a server whose deadline must fire."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"git://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
