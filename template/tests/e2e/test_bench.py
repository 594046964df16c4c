"""The benchmark (`python -m bench`) end to end, on a load small enough for the test suite.

For the service and for the baseline alike it must show what the server did, not only that
figures came out: each stalled client evicted with 1013, and every other client that connected
receiving every message in every phase (a server that drops a healthy client loses its
deliveries). Then every figure, and the picture. Nothing here asserts on timing: benchmarks
print figures. It is one test, so that a parallel run starts the benchmark once.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300  # seconds; the run takes about a minute
CLIENTS = 20
SWEEP = [10, 20]
TINY = [
    f"--clients={CLIENTS}",
    f"--sweep={','.join(str(size) for size in SWEEP)}",
    "--paced-seconds=0.5",
    "--burst=10",
    "--sweep-messages=2",
    "--sweep-burst=5",
    "--rr-clients=4",
    "--rr-seconds=0.3",
]
SERVERS = ("service", "baseline")
EVICTED = 1013
FIGURES = {
    "connect": {"connected", "seconds", "per_second", "p50_ms", "p99_ms"},
    "memory": {"rss_before_kib", "rss_after_kib", "per_connection_kib"},
    "paced": {"deliveries", "expected", "lost", "listeners", "p50_ms", "p99_ms", "max_ms"},
    "stalled": {"p99_ms_without", "p99_ms_with", "evicted", "close_codes", "lost", "listeners"},
    "burst": {"deliveries", "expected", "lost", "listeners", "deliveries_per_second"},
    "load": {"generators", "generator_cpu_max_percent", "phases"},
}
OPERATIONS = {"ws_get", "ws_create", "rest_get", "rest_create"}
WS_OVER_REST = {"ws_over_rest_get", "ws_over_rest_create"}  # ops/s of one over the other

Frame = dict[str, Any]


def leaves(figures: Any, path: str = "") -> dict[str, Any]:
    """Every value in nested figures, by its dotted path."""
    if isinstance(figures, dict):
        found: dict[str, Any] = {}
        for key, value in figures.items():
            found |= leaves(value, f"{path}{key}.")
        return found
    if isinstance(figures, list):
        found = {}
        for number, value in enumerate(figures):
            found |= leaves(value, f"{path}{number}.")
        return found
    return {path.rstrip("."): figures}


def fan_out_phases(figures: Frame) -> dict[str, Frame]:
    """Each fan-out phase's figures, by name: paced, stalled, burst and each sweep point."""
    phases = {name: figures[name] for name in ("paced", "stalled", "burst")}
    return phases | {f"sweep {point['clients']}": point for point in figures["sweep"]}


def assert_each_stalled_client_was_evicted(name: str, figures: Frame) -> None:
    stalled = figures["stalled"]
    rounds = stalled["rounds"]
    assert rounds > 0, (name, stalled)
    assert stalled["close_codes"] == [EVICTED] * rounds, (
        f"{name}: each stalled client should have been closed with {EVICTED}, "
        f"but they got {stalled['close_codes']}"
    )
    assert stalled["evicted"] is True, (name, stalled)


def assert_no_client_but_the_evicted_missed_a_message(name: str, figures: Frame) -> None:
    """Every phase counts the clients that connected but the evicted, and all got everything."""
    stalled = figures["stalled"]["rounds"]  # one client stalled per round, and evicted in it
    clients = {"paced": (CLIENTS, 0), "stalled": (CLIENTS, stalled), "burst": (CLIENTS, stalled)}
    clients |= {f"sweep {size}": (size, 0) for size in SWEEP}
    phases = fan_out_phases(figures)
    assert set(phases) == set(clients), (name, set(phases))
    for phase, counts in phases.items():
        connected, evicted = clients[phase]
        listeners = {"connected": connected, "evicted": evicted, "counted": connected - evicted}
        assert counts["listeners"] == listeners, (
            f"{name}, {phase}: the clients should be {listeners}, "
            f"but the benchmark counted {counts['listeners']}"
        )
        assert counts["lost"] == 0, (
            f"{name}, {phase}: {counts['lost']} deliveries were lost: {counts}"
        )
    for phase in ("paced", "burst"):
        counts = phases[phase]
        should = counts["listeners"]["counted"] * counts["messages"]
        assert counts["expected"] == should == counts["deliveries"], (name, phase, counts)
    counts = phases["stalled"]
    assert counts["expected"] == counts["deliveries"] > 0, (name, counts)


def assert_every_figure_is_there(name: str, figures: Frame) -> None:
    for section, keys in FIGURES.items():
        assert keys <= set(figures[section]), (name, section, figures[section])
    exchanges = figures["request_response"]
    assert set(exchanges) == OPERATIONS | WS_OVER_REST, name
    for operation in OPERATIONS:
        assert exchanges[operation]["ops"] > 0, (name, operation)
    for operation in ("get", "create"):
        ws, rest = exchanges[f"ws_{operation}"], exchanges[f"rest_{operation}"]
        share = ws["ops_per_second"] / rest["ops_per_second"]
        assert exchanges[f"ws_over_rest_{operation}"] == round(share, 2), (name, operation)
    assert [point["clients"] for point in figures["sweep"]] == SWEEP, name
    for path, value in leaves(figures).items():
        assert isinstance(value, int | float), (name, path, value)
    assert figures["connect"]["connected"] == CLIENTS, name


def test_the_benchmark_measures_both_servers(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", *TINY, f"--out={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "burst deliveries per second" in run.stdout
    assert "fan-out:" in run.stdout
    assert "%]" in run.stderr  # the progress bar

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["meta"]["settings"]["clients"] == CLIENTS
    for name in SERVERS:
        assert_no_client_but_the_evicted_missed_a_message(name, results[name])
        assert_each_stalled_client_was_evicted(name, results[name])
        assert_every_figure_is_there(name, results[name])
    assert set(leaves(results["service"])) == set(leaves(results["baseline"]))
    assert "burst.deliveries_per_second" in results["ratio"]

    picture = tmp_path / "results.png"
    if importlib.util.find_spec("matplotlib") is None:  # `make check` leaves the bench group out
        assert not picture.exists()
    else:
        assert picture.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
