"""A git repository served over git's "dumb" HTTP protocol by a real HTTP server on loopback
(``git update-server-info`` and static files), counting the requests it gets; or a server that
answers every request with a redirect elsewhere; or one that stalls in the middle of a pack."""

from __future__ import annotations

import functools
import os
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def git(*args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


class GitServer:
    """``root/r.git`` (one commit: ``hello.txt``, and ``blob.bin`` of ``blob`` random bytes
    when ``blob`` is given, all in one pack) served at ``http://127.0.0.1:PORT/r.git``;
    ``redirect_to``: every request answered 302 to that URL instead; ``stall_after``: of a pack,
    that many bytes are sent, then nothing more until the server is closed."""

    def __init__(
        self, root: Path, redirect_to: str | None = None, blob: int = 0, stall_after: int | None = None
    ) -> None:
        work, bare = root / "work", root / "r.git"
        work.mkdir(parents=True)
        git("init", "-q", "-b", "main", cwd=work)
        (work / "hello.txt").write_text("hello from the repository\n")
        if blob:
            (work / "blob.bin").write_bytes(os.urandom(blob))
        git("add", ".", cwd=work)
        git("commit", "-q", "-m", "first", cwd=work)
        self.commit = git("rev-parse", "HEAD", cwd=work)
        git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
        git("repack", "-q", "-a", "-d", cwd=bare)
        git("update-server-info", cwd=bare)
        self.requests: list[str] = []
        self._closing = threading.Event()
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                if redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", redirect_to + self.path)
                    self.end_headers()
                    return
                if stall_after is not None and self.path.endswith(".pack"):
                    self._stall(stall_after)
                    return
                super().do_GET()

            def _stall(self, sent: int) -> None:
                data = Path(self.translate_path(self.path)).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:sent])
                self.wfile.flush()
                server._closing.wait(timeout=120)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/r.git"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> GitServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
