"""The benchmark (`python -m bench`) end to end, on a load small enough for the test suite.

For the service and for the baseline alike it must show what the server did, not only that
figures came out: each stalled client evicted with 1013, and every other client that connected
receiving every message in every phase (a server that drops a healthy client loses its
deliveries). Then every figure, and the picture. Nothing here asserts on timing: benchmarks
print figures. Each run is one test, so that a parallel run starts each benchmark once.

With redis-server installed, the same tiny load also runs with `--instances 2` (no sweep): the
clients spread over two instances on one private Redis, so that half of them can only receive
the publisher's messages through Redis, and every one of them must receive every message.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.servers.redis import redis_server

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
INSTANCES = 2
INSTANCE_FIGURES = {"count", "connect", "paced", "burst", "load", "ratio", "added_ms"}
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


def bench(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_the_benchmark_measures_both_servers(tmp_path: Path) -> None:
    run = bench(*TINY, f"--out={tmp_path}")
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


def assert_every_client_on_every_instance_got_every_message(instances: Frame) -> None:
    """Round robin: half the clients are on the publisher's instance, the other half hear it
    only through Redis. None stalls here, so every one that connected counts."""
    connect = instances["connect"]
    assert connect["connected"] == CLIENTS, connect
    assert connect["per_instance"] == [CLIENTS // INSTANCES] * INSTANCES, connect
    everyone = {"connected": CLIENTS, "evicted": 0, "counted": CLIENTS}
    for phase in ("paced", "burst"):
        counts = instances[phase]
        assert FIGURES[phase] <= set(counts), (phase, counts)
        assert counts["listeners"] == everyone, (phase, counts["listeners"])
        assert counts["lost"] == 0, f"{phase}: {counts['lost']} deliveries were lost: {counts}"
        should = CLIENTS * counts["messages"]
        assert counts["expected"] == should == counts["deliveries"], (phase, counts)


@pytest.mark.servers
def test_the_benchmark_measures_instances_sharing_redis_against_one(tmp_path: Path) -> None:
    redis_server()  # skips the test without Redis, or fails it when REQUIRE_SERVERS is set
    run = bench(*TINY, "--sweep=none", f"--instances={INSTANCES}", f"--out={tmp_path}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{INSTANCES} instances on one private Redis" in run.stdout
    assert "the goal: within +5 ms" in run.stdout

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["meta"]["settings"]["instances"] == INSTANCES
    instances, one = results["instances"], results["service"]
    assert set(instances) == INSTANCE_FIGURES  # the stalled rounds and the sweep did not run
    assert instances["count"] == INSTANCES
    assert_every_client_on_every_instance_got_every_message(instances)
    for path in ("paced.p50_ms", "paced.p99_ms", "paced.max_ms", "burst.deliveries_per_second"):
        section, key = path.split(".")
        mine, theirs = instances[section][key], one[section][key]
        assert instances["ratio"][path] == round(mine / theirs, 3), path
    for path in ("paced.p50_ms", "paced.p99_ms", "paced.max_ms"):
        section, key = path.split(".")
        added = instances[section][key] - one[section][key]
        assert instances["added_ms"][path] == round(added, 3), path
    for path, value in leaves(instances).items():
        assert isinstance(value, int | float), (path, value)


def test_without_redis_server_the_instances_run_stops_before_it_starts(tmp_path: Path) -> None:
    nowhere = tmp_path / "empty"
    nowhere.mkdir()
    run = bench("--instances=2", f"--out={tmp_path}", env=os.environ | {"PATH": str(nowhere)})
    assert run.returncode == 2, run.stdout + run.stderr
    assert "apt-get install redis-server" in run.stderr
    assert not (tmp_path / "results.json").exists()
