"""Figures out of raw measurements, and the table, JSON and PNG that show them."""

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Frame = dict[str, Any]

# (label, path into a target's figures, unit, format); the rows of the printed table.
ROWS: list[tuple[str, str, str, str]] = [
    ("connect all clients", "connect.seconds", "s", ".2f"),
    ("connects per second", "connect.per_second", "/s", ",.0f"),
    ("connect p99", "connect.p99_ms", "ms", ".1f"),
    ("memory per connection", "memory.per_connection_kib", "KiB", ".1f"),
    ("paced delivery p50", "paced.p50_ms", "ms", ".2f"),
    ("paced delivery p99", "paced.p99_ms", "ms", ".2f"),
    ("paced delivery max", "paced.max_ms", "ms", ".2f"),
    ("paced lost", "paced.lost", "", "d"),
    ("others' p99, no stalled client", "stalled.p99_ms_without", "ms", ".2f"),
    ("others' p99, one stalled client", "stalled.p99_ms_with", "ms", ".2f"),
    ("stalled client evicted (1013)", "stalled.evicted", "", ""),
    ("burst deliveries per second", "burst.deliveries_per_second", "/s", ",.0f"),
    ("burst lost", "burst.lost", "", "d"),
    ("WS get ops/s", "request_response.ws_get.ops_per_second", "/s", ",.0f"),
    ("WS get p99", "request_response.ws_get.p99_ms", "ms", ".2f"),
    ("WS create ops/s", "request_response.ws_create.ops_per_second", "/s", ",.0f"),
    ("WS create p99", "request_response.ws_create.p99_ms", "ms", ".2f"),
    ("REST get ops/s", "request_response.rest_get.ops_per_second", "/s", ",.0f"),
    ("REST get p99", "request_response.rest_get.p99_ms", "ms", ".2f"),
    ("REST create ops/s", "request_response.rest_create.ops_per_second", "/s", ",.0f"),
    ("REST create p99", "request_response.rest_create.p99_ms", "ms", ".2f"),
    ("WS / REST ops/s, get", "request_response.ws_over_rest_get", "x", ".2f"),
    ("WS / REST ops/s, create", "request_response.ws_over_rest_create", "x", ".2f"),
    ("load generator CPU, busiest phase", "load.generator_cpu_max_percent", "%", ".0f"),
]


# The rows of the `--instances` table: the fan-out phases that it runs on N instances.
INSTANCE_PHASES = ("paced", "burst")
BURST_CPU = ("burst CPU per delivery, all servers", "burst.cpu_us_per_delivery", "us", ".1f")
INSTANCE_ROWS = [row for row in ROWS if row[1].split(".")[0] in INSTANCE_PHASES]
INSTANCE_ROWS.insert(-1, BURST_CPU)  # before "burst lost"
LATENCIES = ("paced.p50_ms", "paced.p99_ms", "paced.max_ms")
GOAL_ADDED_MS = 5.0  # paced p99 on N instances at most this much over one, at 1,000 clients

# No service / baseline ratio for these: settings, counts of clients, and ratios already.
SETTINGS = frozenset({"clients", "messages", "rate", "expected", "generators", "rounds"})
SETTINGS |= {"connected", "evicted", "counted", "ws_over_rest_get", "ws_over_rest_create"}


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank percentile `q` (0-100) of values sorted in ascending order."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_figures(values: Sequence[float]) -> Frame:
    """p50, p99 and max; None (null in the JSON) when there is no value at all."""
    ordered = sorted(values)
    if not ordered:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(percentile(ordered, 50), 3),
        "p99_ms": round(percentile(ordered, 99), 3),
        "max_ms": round(ordered[-1], 3),
    }


def lookup(figures: Frame, path: str) -> Any:
    value: Any = figures
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def ratios(service: Frame, baseline: Frame, prefix: str = "") -> Frame:
    """service / baseline for every number both have (sweep points matched by client count)."""
    result: Frame = {}
    for key, value in service.items():
        other = baseline.get(key)
        name = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(other, dict):
            result |= ratios(value, other, f"{name}.")
        elif key == "sweep" and isinstance(value, list) and isinstance(other, list):
            by_size = {point["clients"]: point for point in other}
            for point in value:
                size = point["clients"]
                if size in by_size:
                    result |= ratios(point, by_size[size], f"{name}.{size}.")
        elif _number(value) and _number(other) and other and key not in SETTINGS:
            result[name] = round(value / other, 3)
    return result


def versus_one(instances: Frame, one: Frame) -> Frame:
    """N instances' fan-out figures against one instance's of the same run: `ratio` (N / one,
    as `ratios` computes it) and `added_ms`, what the hop through Redis adds to each latency."""
    phases = {phase: instances[phase] for phase in INSTANCE_PHASES}
    single = {phase: one[phase] for phase in INSTANCE_PHASES}
    added = {}
    for path in LATENCIES:
        mine, theirs = lookup(instances, path), lookup(one, path)
        if _number(mine) and _number(theirs):
            added[path] = round(mine - theirs, 3)
    return {"ratio": ratios(phases, single), "added_ms": added}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def table(results: Frame) -> str:
    service, baseline, ratio = results["service"], results["baseline"], results["ratio"]
    header = ("figure", "service", "baseline", "ratio")
    lines: list[tuple[str, str, str, str]] = []
    for label, path, unit, style in ROWS:
        cells = [_cell(lookup(target, path), unit, style) for target in (service, baseline)]
        share = ratio.get(path)
        lines.append((label, cells[0], cells[1], "" if share is None else f"{share:.2f}x"))
    for point in service.get("sweep", []):
        size = point["clients"]
        other: Frame = next((p for p in baseline.get("sweep", []) if p["clients"] == size), {})
        for key, label, unit, style in (
            ("deliveries_per_second", "deliveries per second", "/s", ",.0f"),
            ("cpu_us_per_delivery", "server CPU per delivery", "us", ".1f"),
            ("p99_ms", "delivery p99", "ms", ".1f"),
        ):
            share = ratio.get(f"sweep.{size}.{key}")
            lines.append(
                (
                    f"sweep {size:,}: {label}",
                    _cell(point.get(key), unit, style),
                    _cell(other.get(key), unit, style),
                    "" if share is None else f"{share:.2f}x",
                )
            )
    return _render(header, lines)


def instances_table(results: Frame) -> str:
    """N instances next to the one instance of the same run, then the goal's figure."""
    instances, one = results["instances"], results["service"]
    count = instances["count"]
    header = ("figure", "1 instance", f"{count} instances", "ratio", "difference")
    lines: list[tuple[str, ...]] = []
    for label, path, unit, style in INSTANCE_ROWS:
        share = instances["ratio"].get(path)
        added = instances["added_ms"].get(path)
        lines.append(
            (
                label,
                _cell(lookup(one, path), unit, style),
                _cell(lookup(instances, path), unit, style),
                "" if share is None else f"{share:.2f}x",
                "" if added is None else f"{added:+.2f} ms",
            )
        )
    clients = results["meta"]["settings"]["clients"]
    added = instances["added_ms"].get("paced.p99_ms")
    shown = "-" if added is None else f"{added:+.2f} ms"
    title = (
        f"{count} instances on one private Redis (paced and burst fan-out only): the listeners "
        f"round robin, the publisher on the first;\nratio and difference = {count} instances "
        f"against 1, the service above"
    )
    goal = (
        f"paced p99 at {clients:,} clients, {count} instances over one: {shown} "
        f"(the goal: within +{GOAL_ADDED_MS:g} ms at 1,000 clients)"
    )
    return f"{title}\n\n{_render(header, lines)}\n{goal}"


def _render(header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    columns = len(header)
    widths = [max(len(row[column]) for row in [header, *lines]) for column in range(columns)]
    rule = "  ".join("-" * width for width in widths)
    rendered = [_line(header, widths), rule] + [_line(row, widths) for row in lines]
    return "\n".join(rendered)


def _line(row: Sequence[str], widths: list[int]) -> str:
    first = row[0].ljust(widths[0])
    return "  ".join(
        [first, *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))]
    )


def _cell(value: Any, unit: str, style: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    text = format(value, style) if style else str(value)
    return f"{text} {unit}".strip()


def write_json(path: Path, results: Frame) -> None:
    path.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")


def draw(path: Path, results: Frame, latencies: dict[str, list[float]]) -> bool:
    """Delivery latency of the paced run (as a CDF) and the sweep over room sizes.

    False, and no picture, without matplotlib: only `make bench` installs it (the bench group).
    """
    try:
        from matplotlib.figure import Figure  # here, not at the top: it takes a while to load
    except ModuleNotFoundError:
        return False

    figure = Figure(figsize=(14, 4.5), layout="constrained")
    cdf, rate, cost = figure.subplots(1, 3)
    colours = {"service": "tab:blue", "baseline": "tab:orange", "instances": "tab:green"}
    labels = {"instances": f"{results.get('instances', {}).get('count')} instances"}
    for name, values in latencies.items():
        ordered = sorted(value for value in values if value > 0)
        if ordered:
            share = [(rank + 1) / len(ordered) for rank in range(len(ordered))]
            cdf.plot(ordered, share, label=labels.get(name, name), color=colours[name])
    cdf.set_xscale("log")
    cdf.set_xlabel("delivery latency (ms, log scale)")
    cdf.set_ylabel("share of deliveries")
    settings = results["meta"]["settings"]
    cdf.set_title(f"paced fan-out, {settings['clients']:,} clients, {settings['rate']:g} msg/s")
    cdf.grid(True, which="both", alpha=0.3)
    for name in ("service", "baseline"):
        sweep = results[name].get("sweep", [])
        sizes = [point["clients"] for point in sweep]
        colour = colours[name]
        rate.plot(
            sizes, [p["deliveries_per_second"] for p in sweep], "o-", label=name, color=colour
        )
        cost.plot(sizes, [p["cpu_us_per_delivery"] for p in sweep], "o-", label=name, color=colour)
    rate.set_title("burst: deliveries per second")
    cost.set_title("server CPU per delivery (us)")
    for axes in (rate, cost):
        axes.set_xlabel("clients in the room")
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.3)
    for axes in (cdf, rate, cost):
        axes.legend()
    figure.savefig(path, dpi=100)
    return True
