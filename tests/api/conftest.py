"""Fixtures of the API tests: a node home per test; the node tests' local market (real LiteSVM
behind real JSON-RPC/PubSub, one per module), where clients post the jobs whose logs are read;
the vault tests' OpenBao."""

from tests.corekit import home  # noqa: F401 - fixture
from tests.node.conftest import endpoint, served  # noqa: F401 - fixtures
from tests.vault.conftest import bao  # noqa: F401 - fixture
