"""Min, median and max of a figure over rounds."""

from __future__ import annotations

import statistics


def summary(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
    }
