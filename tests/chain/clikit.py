"""The CLI against a local market served by a real `nosana-node localnet start` process."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nosana_node.chain.client import ChainClient
from nosana_node.chain.endpoint import Endpoint, localnet_endpoint
from tests.chain.conftest import FAST
from tests.cli import run_cli
from tests.localnet.test_cli import localnet


@dataclass
class LocalMarket:
    """A local market process serving ``home/localnet``; commands run with ``--network localnet``."""

    home: Path
    summary: dict[str, Any]

    @property
    def endpoint(self) -> Endpoint:
        return localnet_endpoint(self.home / "localnet", self.summary["rpc_url"], self.summary["ws_url"])

    def client(self, wallet: str) -> ChainClient:
        endpoint = self.endpoint
        return ChainClient.connect(endpoint, endpoint.local_keypair(wallet), FAST)

    def cli(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(
            *args,
            "--network",
            "localnet",
            env={"NOSANA_HOME": str(self.home), **(env or {})},
            timeout=timeout,
        )

    def json(self, *args: str) -> Any:
        result = self.cli(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def serve(home: Path) -> Iterator[LocalMarket]:
    with localnet(home / "localnet") as (_, summary):
        yield LocalMarket(home, summary)
