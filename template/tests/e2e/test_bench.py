"""The benchmark (`python -m bench`) end to end, on a load small enough for the test suite.

It must produce every figure for the service and for the baseline, the picture, and lose no
message in the burst. Nothing here asserts on timing: benchmarks print figures.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120  # seconds; the run takes about ten
TINY = [
    "--clients=20",
    "--sweep=10,20",
    "--paced-seconds=0.5",
    "--burst=10",
    "--sweep-messages=2",
    "--sweep-burst=5",
    "--rr-clients=4",
    "--rr-seconds=0.3",
]
FIGURES = {
    "connect": {"connected", "seconds", "per_second", "p50_ms", "p99_ms"},
    "memory": {"rss_before_kib", "rss_after_kib", "per_connection_kib"},
    "paced": {"deliveries", "expected", "lost", "p50_ms", "p99_ms", "max_ms", "rounds"},
    "stalled": {"p99_ms_without", "p99_ms_with", "evicted", "rounds"},
    "burst": {"deliveries", "expected", "lost", "deliveries_per_second", "cpu_us_per_delivery"},
    "load": {"generators", "generator_cpu_max_percent", "phases"},
}
OPERATIONS = {"ws_get", "ws_create", "rest_get", "rest_create"}
WS_OVER_REST = {"ws_over_rest_get", "ws_over_rest_create"}  # ops/s of one over the other
NOT_ALWAYS_SET = {"close_code"}  # no close at all when the stalled client was not evicted


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
    assert results["meta"]["settings"]["clients"] == 20
    for name in ("service", "baseline"):
        figures = results[name]
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
        assert [point["clients"] for point in figures["sweep"]] == [10, 20], name
        for path, value in leaves(figures).items():
            if path.rsplit(".", 1)[-1] not in NOT_ALWAYS_SET:
                assert isinstance(value, int | float), (name, path, value)
        assert figures["connect"]["connected"] == 20, name
        assert figures["burst"]["expected"] > 0, name
        assert figures["burst"]["lost"] == 0, (name, figures["burst"])
        assert figures["paced"]["lost"] == 0, (name, figures["paced"])
    assert set(leaves(results["service"])) == set(leaves(results["baseline"]))
    assert "burst.deliveries_per_second" in results["ratio"]

    picture = tmp_path / "results.png"
    assert picture.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
