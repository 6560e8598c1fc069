"""A git repository served over git's "dumb" HTTP protocol by a real HTTP server on loopback
(``git update-server-info`` and static files), counting the requests it gets; or a server that
answers every request with a redirect elsewhere."""

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
    """``root/r.git`` (one commit: ``hello.txt``) served at ``http://127.0.0.1:PORT/r.git``;
    ``redirect_to``: every request answered 302 to that URL instead."""

    def __init__(self, root: Path, redirect_to: str | None = None) -> None:
        work, bare = root / "work", root / "r.git"
        work.mkdir(parents=True)
        git("init", "-q", "-b", "main", cwd=work)
        (work / "hello.txt").write_text("hello from the repository\n")
        git("add", ".", cwd=work)
        git("commit", "-q", "-m", "first", cwd=work)
        self.commit = git("rev-parse", "HEAD", cwd=work)
        git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
        git("update-server-info", cwd=bare)
        self.requests: list[str] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                if redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", redirect_to + self.path)
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/r.git"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> GitServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
