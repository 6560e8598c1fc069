"""Fixtures for resource tests: moto's S3 server, and resource specs built through the validator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nosana_node.jobdef.schema import RemoteResource, RunArgs
from tests.resources.servers import moto_s3


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server shared by a test module."""
    with moto_s3() as endpoint:
        yield endpoint


def s3_client(endpoint: str, key: str = "test", secret: str = "test") -> Any:
    """A plain boto3 client of ``endpoint`` (to seed buckets)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def resource(spec: dict[str, Any]) -> RemoteResource:
    """A resource spec validated as a job definition's ``args.resources`` entry."""
    args = RunArgs.model_validate({"image": "x", "resources": [spec]})
    assert args.resources is not None
    item = args.resources[0]
    assert not isinstance(item, str)
    return item  # type: ignore[return-value]
