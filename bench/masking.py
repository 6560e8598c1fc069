"""Benchmark: masking a streamed container log.

Streams ~16 MiB of log text in 4 KiB chunks through a :class:`StreamMasker` holding 10 secrets
(one multi-line, every encoded form registered) and compares with baselines measured in the same
run: the same chunks joined with no masking, and the whole text masked with a flat longest-first
alternation of the same forms (the obvious implementation). Prints throughput and ratios.
"""

from __future__ import annotations

import base64
import random
import re
import time

from nosana_node.secrets.masking import MASK, Masker

CHUNK = 4096
TOTAL = 16 << 20


def make_log(secrets: list[str], rng: random.Random) -> str:
    words = ["npm", "install", "ok", "GET", "/api/v1/items", "200", "warn:", "deprecated", "build", "step"]
    lines: list[str] = []
    size = 0
    while size < TOTAL:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 16)))
        if rng.random() < 0.01:
            line += " token=" + rng.choice(secrets).split("\n")[0]
        if rng.random() < 0.005:
            line += " auth=" + base64.b64encode(rng.choice(secrets).encode()).decode()
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


def run(chunks: list[str], masker: Masker | None) -> tuple[float, str]:
    start = time.perf_counter()
    if masker is None:
        out = "".join(chunks)
    else:
        stream = masker.stream()
        out = "".join(stream.feed(c) for c in chunks) + stream.flush()
    return time.perf_counter() - start, out


def _timed(call: object) -> float:
    start = time.perf_counter()
    call()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    rng = random.Random(7)
    secrets = [f"s3cret-{rng.getrandbits(64):016x}" for _ in range(9)]
    secrets.append(
        "-----BEGIN KEY-----\n"
        + "\n".join(f"{rng.getrandbits(192):048x}" for _ in range(6))
        + "\n-----END KEY-----"
    )
    text = make_log(secrets, rng)
    chunks = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
    masker = Masker(secrets)
    base_s, _ = min(run(chunks, None) for _ in range(3))
    mask_s, masked = min(run(chunks, masker) for _ in range(3))
    flat = re.compile("|".join(re.escape(f) for f in sorted(masker._forms, key=len, reverse=True)))
    flat_s = min(_timed(lambda: flat.sub(MASK, text)) for _ in range(3))
    assert masked == masker.mask(text), "streamed masking differs from whole-text masking"
    assert not any(s in masked for s in secrets[:9]) and MASK in masked
    mib = len(text) / (1 << 20)
    print(f"masking: {mib:.1f} MiB log, {len(chunks)} chunks of {CHUNK} B, {len(masker)} masked forms")
    print(f"  baseline (join, no masking): {mib / base_s:10.1f} MiB/s")
    print(f"  flat alternation, whole text:{mib / flat_s:10.1f} MiB/s")
    print(
        f"  StreamMasker:                {mib / mask_s:10.1f} MiB/s  ({flat_s / mask_s:.1f}x the flat rate)"
    )


if __name__ == "__main__":
    main()
