"""Settings of job definition runs: published ports, health checks, resources (``:jobdef``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from nosana_node.resources.settings import ResourceSettings


@dataclass(frozen=True)
class JobdefSettings:
    """What the ``container/run`` op reads besides the runner settings.

    - ``publish_address``: host address exposed ports are published on (loopback by default:
      reachable from this host only; ``0.0.0.0`` for every interface);
    - ``health_interval`` / ``continuous_interval``: seconds between start-up checks, and between
      continuous checks once ready; ``health_timeout``: how long a port may take to get ready;
    - ``resources``: endpoints, mirrors and limits of resource fetching;
    - ``s3_credentials``: vault paths of S3 keys by bucket (or host).
    """

    publish_address: str = "127.0.0.1"
    health_interval: float = 5.0
    continuous_interval: float = 30.0
    health_timeout: float = 1800.0
    resources: ResourceSettings = field(default_factory=ResourceSettings)
    s3_credentials: dict[str, str] = field(default_factory=dict)
