#!/usr/bin/env bash
# Build the project's small job image offline: a rootfs made from Debian's busybox-static,
# imported with `docker import`. No registry is contacted. Idempotent: an existing image with the
# same recipe version is kept (pass --force to rebuild).
set -euo pipefail

image=${NOSANA_BUSYBOX_IMAGE:-localhost/nosana-busybox:latest}
recipe=1  # bump when the rootfs recipe below changes

if [ "${1:-}" != "--force" ] &&
   [ "$(docker image inspect -f '{{index .Config.Labels "io.nosana.image.recipe"}}' "$image" 2>/dev/null)" = "$recipe" ]; then
  exit 0
fi
busybox_bin=/bin/busybox
if [ ! -x "$busybox_bin" ] || [[ "$(ldd "$busybox_bin" 2>&1 || true)" != *"not a dynamic"* ]]; then
  echo "build-images: installing Debian's busybox-static" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,etc,root,tmp,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"
cp "$(readlink -f "$busybox_bin")" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
tar -C "$root" --numeric-owner -c . |
  docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    -c 'CMD ["/bin/sh"]' \
    -c "LABEL io.nosana.image.recipe=$recipe" \
    - "$image" >/dev/null
echo "build-images: built $image" >&2
