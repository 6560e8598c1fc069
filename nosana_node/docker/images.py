"""Making sure a job's image is there, according to the pull policy.

``always`` pulls every time; ``if-not-present`` (the default) pulls only a missing image;
``never`` uses local images only. An image that cannot be had raises
:class:`ImageUnavailableError` naming the image; the runtime calls this before any op runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nosana_node.docker.errors import EngineNotFound, engine_call
from nosana_node.errors import UserInputError
from nosana_node.image_reference import check_reference

if TYPE_CHECKING:
    import docker


class ImageUnavailableError(UserInputError):
    """The image is not present and cannot be pulled (or may not be, by policy)."""


def is_present(api: docker.APIClient, image: str) -> bool:
    """True when the engine has ``image`` locally."""
    try:
        with engine_call(f"cannot inspect image {image!r}"):
            api.inspect_image(image)
    except EngineNotFound:
        return False
    return True


def pull(
    api: docker.APIClient,
    image: str,
    auth: dict[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    check: Callable[[], None] | None = None,
) -> None:
    """Pull ``image``; :class:`ImageUnavailableError` with the engine's reason on failure.

    ``check`` is called for every progress event (it raises to abandon the pull).
    """
    import docker

    repository, tag = docker.utils.parse_repository_tag(image)
    last_status = None
    with engine_call(f"cannot pull image {image!r}", ImageUnavailableError):
        for event in api.pull(repository, tag=tag or "latest", stream=True, decode=True, auth_config=auth):
            if check is not None:
                check()
            if "error" in event:
                raise ImageUnavailableError(
                    f"cannot pull image {image!r}: {' '.join(str(event['error']).split())}"
                )
            status = event.get("status")
            if progress is not None and status and status != last_status and "id" not in event:
                progress(f"{image}: {status}")
            last_status = status


def ensure_image(
    api: docker.APIClient,
    image: str,
    policy: str,
    auth: Callable[[], dict[str, Any] | None] | None = None,
    progress: Callable[[str], None] | None = None,
    check: Callable[[], None] | None = None,
) -> None:
    """Make ``image`` available under ``policy`` or raise :class:`ImageUnavailableError`.

    ``auth`` is called (to resolve registry credentials) only when a pull is needed. A reference
    the engine cannot parse is refused before the engine is asked.
    """
    problem = check_reference(image)
    if problem:
        raise ImageUnavailableError(problem)
    if policy != "always" and is_present(api, image):
        return
    if policy == "never":
        raise ImageUnavailableError(f"image {image!r} is not present and the pull policy is 'never'")
    if progress is not None:
        progress(f"pulling image {image}")
    pull(api, image, auth() if auth is not None else None, progress, check)
