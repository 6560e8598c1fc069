"""Prometheus metrics, written in the text exposition format (version 0.0.4) by hand.

:class:`Counter`, :class:`Gauge` and :class:`Histogram` hold labelled series in memory and
are updated from any thread (one lock each); a :class:`Gauge` may instead read its value when
scraped (``source``). :class:`Registry` renders every metric in registration order: a scrape
costs O(series), whatever the number of jobs in the node's history.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(names: Labels, values: Labels, extra: str = "") -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


class _Metric:
    kind = ""

    def __init__(self, name: str, doc: str, labels: Iterable[str] = ()) -> None:
        self.name = name
        self.doc = doc
        self.label_names: Labels = tuple(labels)
        self._lock = threading.Lock()

    def _key(self, values: Iterable[str]) -> Labels:
        key = tuple(str(v) for v in values)
        if len(key) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {key}")
        return key

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    """A value that only goes up (per label values)."""

    kind = "counter"

    def __init__(self, name: str, doc: str, labels: Iterable[str] = ()) -> None:
        super().__init__(name, doc, labels)
        self._values: dict[Labels, float] = {}

    def inc(self, *labels: str, by: float = 1.0) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + by

    def value(self, *labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.label_names, k)} {_number(v)}" for k, v in items]


class Gauge(_Metric):
    """A value that goes up and down, set by the node or read at scrape time from ``source``."""

    kind = "gauge"

    def __init__(
        self,
        name: str,
        doc: str,
        labels: Iterable[str] = (),
        source: Callable[[], float | dict[Labels, float] | None] | None = None,
    ) -> None:
        super().__init__(name, doc, labels)
        self._values: dict[Labels, float] = {}
        self.source = source

    def set(self, value: float, *labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = value

    def lines(self) -> list[str]:
        if self.source is not None:
            value = self.source()
            if value is None:
                return []
            values = value if isinstance(value, dict) else {(): float(value)}
        else:
            with self._lock:
                values = dict(self._values)
        return [f"{self.name}{_labels(self.label_names, k)} {_number(v)}" for k, v in sorted(values.items())]


class Histogram(_Metric):
    """Observations counted into cumulative buckets (upper bounds, seconds), with sum and count."""

    kind = "histogram"

    def __init__(self, name: str, doc: str, buckets: Iterable[float], labels: Iterable[str] = ()) -> None:
        super().__init__(name, doc, labels)
        self.buckets = sorted(float(b) for b in buckets)
        self._series: dict[Labels, list[float]] = {}  # per bucket counts (not cumulative), +Inf, sum

    def observe(self, value: float, *labels: str) -> None:
        key = self._key(labels)
        index = bisect.bisect_left(self.buckets, value)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = [0.0] * (len(self.buckets) + 2)
            series[index] += 1
            series[-1] += value

    def count(self, *labels: str) -> int:
        with self._lock:
            series = self._series.get(self._key(labels))
            return int(sum(series[:-1])) if series else 0

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._series.items())
        out = []
        for key, series in items:
            running = 0.0
            for bound, n in zip([*self.buckets, math.inf], series[:-1], strict=True):
                running += n
                le = f'le="{_number(bound)}"'
                out.append(f"{self.name}_bucket{_labels(self.label_names, key, le)} {_number(running)}")
            out.append(f"{self.name}_sum{_labels(self.label_names, key)} {_number(series[-1])}")
            out.append(f"{self.name}_count{_labels(self.label_names, key)} {_number(running)}")
        return out


class Registry:
    """The metrics of one process, rendered in registration order."""

    def __init__(self) -> None:
        self._metrics: list[_Metric] = []

    def add(self, metric: _Metric) -> _Metric:
        self._metrics.append(metric)
        return metric

    def counter(self, name: str, doc: str, labels: Iterable[str] = ()) -> Counter:
        return self.add(Counter(name, doc, labels))  # type: ignore[return-value]

    def gauge(self, name: str, doc: str, labels: Iterable[str] = (), source=None) -> Gauge:
        return self.add(Gauge(name, doc, labels, source))  # type: ignore[return-value]

    def histogram(
        self, name: str, doc: str, buckets: Iterable[float], labels: Iterable[str] = ()
    ) -> Histogram:
        return self.add(Histogram(name, doc, buckets, labels))  # type: ignore[return-value]

    def render(self) -> str:
        """Every metric in the text exposition format."""
        lines: list[str] = []
        for metric in self._metrics:
            try:
                body = metric.lines()
            except Exception as exc:  # a source that fails: said, the others still rendered
                lines.append(f"# {metric.name} unavailable: {type(exc).__name__}")
                continue
            lines.extend(metric.header())
            lines.extend(body)
        return "\n".join(lines) + "\n"
