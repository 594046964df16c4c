"""`python -m bench`: the service against a bare `websockets` baseline, under the same load.

Run it from the project's root (`uv run python -m bench`). It starts the service as a user
would (`python -m <package>`, in a subprocess, with the shipped settings but for generous rate
limits and room for every client), measures it, stops it, then does the same with the baseline
(`bench/baseline.py`). Load comes from generator processes (`bench/loadgen.py`), never from the
servers' own processes. Phases, each with a timeout:

1. request/response: `<entity>.get` and `<entity>.create` round trips from concurrent clients,
   over WebSocket and over REST with keep-alive;
2. connect: N clients connect (offering permessage-deflate, as browsers do) and join one room;
   the server's resident memory before and after gives the cost of a connection;
3. paced fan-out: a publisher sends timestamped messages at a fixed rate; the delivery latency;
4. the same with one client stalled (it stops reading): the others' latency, and its eviction;
5. burst fan-out: a burst of messages; deliveries per second, and whether any was lost;
6. the sweep: fan-out again at each room size.

With `--instances N` (N > 1) it then runs the service as N instances on a private Redis
(`bench/redis.py`), the listeners spread round robin over them, for the paced and burst
fan-out only, and compares them with the one instance of the same run.

Without rooms there is no `room.publish`: the publisher creates entities instead, and every
connection receives each `<entity>.created` event. See docs/performance.md.
"""

import argparse
import asyncio
import json
import math
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

from bench import report
from bench.progress import Progress
from bench.project import Project, discover
from bench.redis import MISSING, RedisServer, RedisStartError, find_program
from bench.system import cpu_seconds, raise_fd_limit, rss_kib, stop

Frame = dict[str, Any]

ROOM = "bench"
PER_GENERATOR = 5000  # clients per generator process when --generators is not given
CONNECT_CHUNK = 250  # clients each generator connects between two progress updates
DELIVERY_RATE = 40_000  # deliveries per second that the automatic paced rate aims at
MAX_RATE = 40.0  # messages per second, at most, for the automatic paced rate
IDLE_TIMEOUT = 5.0  # seconds without a new delivery after which a fan-out phase gives up
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
BUSY_GENERATOR = 85.0  # percent of one core above which a generator may distort the figures
STALL_PINGS_PER_SECOND = 100.0
WARM_UP = 5  # messages fanned out before the measured phases, and after each sweep connect
WARM_UP_SECONDS = 3.0  # then paced at the measured rate, until connecting has settled
PACED_ROUNDS = 3  # paced runs, whose median figures are reported
STALLED_ROUNDS = 3  # the same, each with another client stalled


class BenchError(Exception):
    """A phase failed or timed out; the run stops with this message."""


@dataclass(frozen=True)
class Plan:
    """The run's settings, resolved from the command line."""

    clients: int
    sweep: list[int]
    generators: int
    rate: float
    paced_messages: int
    burst: int
    sweep_messages: int
    sweep_burst: int
    rr_clients: int
    rr_seconds: float
    stall_ping_bytes: int
    compression: bool
    instances: int


def automatic_rate(clients: int) -> float:
    """Messages per second for about DELIVERY_RATE deliveries per second (at most MAX_RATE)."""
    return round(min(MAX_RATE, max(0.5, DELIVERY_RATE / max(clients, 1))), 2)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the service against a bare `websockets` baseline.",
    )
    parser.add_argument("--clients", type=int, default=1000, help="N (default: 1000)")
    parser.add_argument(
        "--sweep",
        default="1000,2000,5000,10000",
        help="room sizes for the sweep, comma-separated; 'none' to skip (default: %(default)s)",
    )
    parser.add_argument(
        "--generators",
        type=int,
        default=0,
        help=f"load-generator processes (default: one per {PER_GENERATOR:,} clients, at least 2)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help=f"paced messages per second (default: {DELIVERY_RATE:,} deliveries/s, "
        f"at most {MAX_RATE:g} messages/s)",
    )
    parser.add_argument("--paced-seconds", type=float, default=5.0, help="default: %(default)s")
    parser.add_argument("--burst", type=int, default=100, help="burst messages (default: 100)")
    parser.add_argument(
        "--sweep-messages", type=int, default=5, help="paced messages per sweep point (default: 5)"
    )
    parser.add_argument(
        "--sweep-burst", type=int, default=20, help="burst messages per sweep point (default: 20)"
    )
    parser.add_argument("--rr-clients", type=int, default=16, help="default: %(default)s")
    parser.add_argument(
        "--rr-seconds", type=float, default=3.0, help="per operation and transport (default: 3)"
    )
    parser.add_argument(
        "--stall-ping-bytes",
        type=int,
        default=48 * 1024,
        help="bytes of data in each ping the stalled client sends (default: 49152)",
    )
    parser.add_argument(
        "--compression",
        choices=["shipped", "on", "off"],
        default="shipped",
        help="permessage-deflate on the servers (default: as the service ships; "
        "the baseline follows)",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="also run the paced and burst fan-out on N instances of the service sharing a "
        "private Redis, and compare (default: 1, one instance only; needs redis-server)",
    )
    parser.add_argument("--package", help="the service's package (default: from pyproject.toml)")
    parser.add_argument(
        "--out", type=Path, default=Path("bench/results"), help="default: %(default)s"
    )
    return parser.parse_args(argv)


def make_plan(arguments: argparse.Namespace, project: Project) -> Plan:
    sweep = (
        []
        if arguments.sweep.strip().lower() in {"", "none", "0"}
        else sorted({int(size) for size in arguments.sweep.split(",") if size.strip()})
    )
    if arguments.clients < 2 or any(size < 1 for size in sweep):
        raise SystemExit("--clients must be 2 or more, and sweep sizes 1 or more")
    if arguments.instances < 1:
        raise SystemExit("--instances must be 1 or more")
    largest = max([arguments.clients, *sweep])
    # At least two: one generator alone saturates its core in a burst before the server does.
    generators = arguments.generators or max(2, math.ceil(largest / PER_GENERATOR))
    rate = arguments.rate or automatic_rate(arguments.clients)
    compression = {"on": True, "off": False}.get(arguments.compression, project.compression)
    return Plan(
        clients=arguments.clients,
        sweep=sweep,
        generators=max(1, generators),
        rate=rate,
        paced_messages=max(2, round(rate * arguments.paced_seconds)),
        burst=max(1, arguments.burst),
        sweep_messages=max(1, arguments.sweep_messages),
        sweep_burst=max(1, arguments.sweep_burst),
        rr_clients=max(1, arguments.rr_clients),
        rr_seconds=arguments.rr_seconds,
        stall_ping_bytes=arguments.stall_ping_bytes,
        compression=compression,
        instances=arguments.instances,
    )


# the servers


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    http_port: int
    log: Path

    def rss_kib(self) -> int:
        return rss_kib(self.process.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    @property
    def ports(self) -> list[int]:
        return [self.port]

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@dataclass
class Instances:
    """N instances of the service on one Redis (and one SQLite file), measured as one server:
    their memory and CPU time are the instances' and Redis' together."""

    servers: list[Server]
    redis: RedisServer

    @property
    def name(self) -> str:
        return f"{len(self.servers)} instances"

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    @property
    def http_port(self) -> int:
        return self.servers[0].http_port

    def rss_kib(self) -> int:
        return sum(server.rss_kib() for server in self.servers) + self.redis.rss_kib()

    def cpu_seconds(self) -> float:
        return sum(server.cpu_seconds() for server in self.servers) + self.redis.cpu_seconds()

    def output(self) -> str:
        logs = [(f"instance {n + 1}", server.output()) for n, server in enumerate(self.servers)]
        logs.append(("redis", self.redis.output()))
        return "\n".join(f"--- {name}:\n{log}" for name, log in logs)

    def stop(self) -> None:
        """The instances first: each says goodbye to Redis as it stops."""
        for server in self.servers:
            stop(server.process, signal.SIGTERM, STOP_TIMEOUT)
            server.log.unlink(missing_ok=True)
        self.redis.stop()


Measured = Server | Instances


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def credentials(project: Project) -> tuple[dict[str, str], Frame]:
    """The service's auth settings, and what the generators need to present them."""
    if project.auth == "jwt":
        secret = secrets.token_urlsafe(48)
        return {"JWT_SECRET": secret}, {"kind": "jwt", "secret": secret}
    if project.auth == "token":
        # An environment variable holds at most 128 KiB: clients share a hundred tokens.
        tokens = [f"bench-{number:03d}-{secrets.token_hex(12)}" for number in range(100)]
        pairs = ",".join(f"{token}:bench-{number}" for number, token in enumerate(tokens))
        return {"API_TOKENS": pairs}, {"kind": "token", "tokens": tokens}
    return {}, {"kind": "none"}


def start_service(
    project: Project, plan: Plan, workdir: Path, auth: dict[str, str], backplane: str = ""
) -> Server:
    """`python -m <package>` in `workdir` (so that no `.env` of the project applies); with
    `backplane`, a Redis URL, as one of several instances."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in project.settings}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project.source), env.get("PYTHONPATH")]))
    env |= {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "AUTO_MIGRATE": "1",
        "RATE_LIMIT_PER_SECOND": "1000000000",
        "RATE_LIMIT_BURST": "1000000000",
        "MAX_CONNECTIONS": str(max([plan.clients, *plan.sweep]) + plan.rr_clients + 100),
        "LOG_LEVEL": "warning",
    } | auth
    if plan.compression != project.compression:
        env["WS_COMPRESSION"] = "true" if plan.compression else "false"
    if backplane:
        env["BACKPLANE_URL"] = backplane
    command = [sys.executable, "-m", project.package]
    return launch("service", command, env, workdir, port, port)


def start_baseline(project: Project, plan: Plan, workdir: Path) -> Server:
    port, http_port = free_port(), free_port()
    command = [sys.executable, "-m", "bench.baseline", "--port", str(port)]
    command += ["--http-port", str(http_port), "--entity", project.entity]
    command += ["--collection", project.collection]
    command += ["--rooms"] if project.rooms else []
    command += ["--compression"] if plan.compression else []
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project.root), env.get("PYTHONPATH")]))
    return launch("baseline", command, env, project.root, port, http_port)


def start_instances(
    project: Project, plan: Plan, workdir: Path, auth: dict[str, str], redis: RedisServer
) -> Instances:
    """Redis, then `plan.instances` services on it, sharing `workdir` and its SQLite file."""
    try:
        redis.start()
    except RedisStartError as error:
        raise BenchError(str(error)) from None
    instances = Instances([], redis)
    try:
        for _ in range(plan.instances):
            start = partial(start_service, project, plan, workdir, auth, redis.url)
            instances.servers.append(retrying(start))
    except BaseException:
        instances.stop()
        raise
    return instances


def retrying(start: Callable[[], Server]) -> Server:
    """`start()`, again if the free port it chose was taken before the server bound it."""
    for _ in range(2):
        try:
            return start()
        except BenchError as error:
            if "address already in use" not in str(error).lower():
                raise
    return start()


def launch(
    name: str, command: list[str], env: dict[str, str], cwd: Path, port: int, http_port: int
) -> Server:
    log = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter, our own arguments)
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(name, process, port, http_port, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"the {name} exited with {process.returncode}:\n{server.output()}")
        if healthy(port):
            return server
        time.sleep(0.1)
    stop(server.process, signal.SIGTERM, STOP_TIMEOUT)
    raise BenchError(f"the {name} did not answer /health in {START_TIMEOUT:.0f} s")


def healthy(port: int) -> bool:
    connection = HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


# the load generators


class LoadGenerator:
    """One `python -m bench.loadgen` process; `call` sends a command and awaits its answer."""

    def __init__(self, number: int, process: asyncio.subprocess.Process) -> None:
        self.number = number
        self.process = process

    @classmethod
    async def start(cls, number: int, root: Path) -> "LoadGenerator":
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.loadgen",
            cwd=root,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 28,
        )
        return cls(number, process)

    async def call(self, op: str, within: float, **arguments: Any) -> Frame:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write((json.dumps({"op": op} | arguments) + "\n").encode())
        try:
            await self.process.stdin.drain()
            line = await asyncio.wait_for(self.process.stdout.readline(), within)
        except TimeoutError:
            raise BenchError(f"generator {self.number}: {op} took over {within:.0f} s") from None
        if not line:
            raise BenchError(f"generator {self.number} exited during {op}")
        answer: Frame = json.loads(line)
        if not answer["ok"]:
            raise BenchError(f"generator {self.number}: {answer['error']}")
        result: Frame = answer["result"]
        return result

    async def stop(self) -> None:
        if self.process.returncode is not None:
            return
        with suppress(Exception):
            await self.call("disconnect", 60)
        with suppress(Exception):
            assert self.process.stdin is not None
            self.process.stdin.write(b'{"op": "exit"}\n')
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def shares(total: int, parts: int) -> list[int]:
    """`total` split as evenly as can be into `parts`."""
    return [total // parts + (1 if number < total % parts else 0) for number in range(parts)]


# one target, every phase


class Driver:
    """Every phase against one server, with the generators' help."""

    def __init__(
        self,
        server: Measured,
        plan: Plan,
        generators: list[LoadGenerator],
        progress: Progress,
    ) -> None:
        self.server = server
        self.plan = plan
        self.generators = generators
        self.progress = progress
        self.next_index = 0
        self.load: Frame = {}

    @property
    def name(self) -> str:
        return self.server.name

    async def everyone(self, op: str, within: float, **arguments: Any) -> list[Frame]:
        calls = (generator.call(op, within, **arguments) for generator in self.generators)
        return list(await asyncio.gather(*calls))

    async def gathered(
        self,
        calls: Sequence[Awaitable[Frame]],
        seconds: float,
        start: float = 0.0,
        span: float = 1.0,
    ) -> list[Frame]:
        """All of `calls`, moving the progress bar over the `seconds` they should take."""
        task = asyncio.ensure_future(asyncio.gather(*calls))
        began = time.monotonic()
        while not task.done():
            elapsed = (time.monotonic() - began) / max(seconds, 0.1)
            self.progress.update(start + span * min(elapsed, 1.0))
            await asyncio.wait([task], timeout=0.2)
        return list(task.result())

    async def run(self) -> tuple[Frame, list[float]]:
        plan = self.plan
        figures: Frame = {}
        self.progress.step(f"{self.name}: request/response")
        figures["request_response"] = await self.request_response()
        self.progress.step(f"{self.name}: connecting {plan.clients:,} clients")
        figures["connect"], figures["memory"] = await self.connect(plan.clients, stall=True)
        await self.generators[0].call("publisher", 30)
        await self.warm_up(plan.rate)
        self.progress.step(f"{self.name}: paced fan-out")
        paced, latencies = await self.paced()
        figures["paced"] = paced
        self.progress.step(f"{self.name}: paced fan-out, one client stalled")
        figures["stalled"] = await self.stalled(paced)
        self.progress.step(f"{self.name}: burst fan-out")
        burst, _ = await self.fan_out("burst", plan.burst, None, keep=False)
        figures["burst"] = {key: burst[key] for key in BURST}
        figures["sweep"] = await self.sweep()
        figures["load"] = self.load_figures()
        return figures, latencies

    async def run_fan_out(self) -> tuple[Frame, list[float]]:
        """Connect, then the paced and burst fan-out only (what `--instances` compares): the
        other phases do not cross instances, so they would only measure one instance again."""
        plan = self.plan
        figures: Frame = {}
        self.progress.step(f"{self.name}: connecting {plan.clients:,} clients")
        figures["connect"], _ = await self.connect(plan.clients, stall=False)
        await self.generators[0].call("publisher", 30)
        await self.warm_up(plan.rate)
        self.progress.step(f"{self.name}: paced fan-out")
        figures["paced"], latencies = await self.paced()
        self.progress.step(f"{self.name}: burst fan-out")
        burst, _ = await self.fan_out("burst", plan.burst, None, keep=False)
        figures["burst"] = {key: burst[key] for key in BURST}
        figures["load"] = self.load_figures()
        return figures, latencies

    def load_figures(self) -> Frame:
        return {
            "generators": len(self.generators),
            "generator_cpu_max_percent": max(
                phase["generator_cpu_percent"] for phase in self.load.values()
            ),
            "phases": self.load,
        }

    async def paced(self) -> tuple[Frame, list[float]]:
        """PACED_ROUNDS paced runs; each latency figure is the median of the rounds' figures.

        On a shared 2-core machine one run in three or four came out a half slower than the
        next, for the baseline as for the service: the median keeps one disturbed run from
        deciding the comparison. Every round's latencies go to the PNG."""
        plan = self.plan
        rounds: list[Frame] = []
        latencies: list[float] = []
        for _ in range(PACED_ROUNDS):
            figures, values = await self.fan_out("paced", plan.paced_messages, plan.rate)
            rounds.append(figures)
            latencies += values
        paced = {key: sum(one[key] for one in rounds) for key in PACED_COUNTS}
        paced |= {"rate": plan.rate, "listeners": rounds[0]["listeners"], "rounds": PACED_ROUNDS}
        for key in ("p50_ms", "p99_ms", "max_ms"):
            paced[key] = statistics.median(one[key] for one in rounds)
        return paced, latencies

    async def warm_up(self, rate: float) -> None:
        """A burst, then a few seconds paced at `rate`, so that no figure includes what runs
        only once or what connecting thousands of clients leaves behind (the collector's
        passes, the kernel's socket set-up): measured right after connecting, the first
        seconds of either server were up to twice as slow as the next ones."""
        await self.fan_out("warm-up", WARM_UP, None, keep=False)
        await self.fan_out("warm-up", max(1, round(rate * WARM_UP_SECONDS)), rate, keep=False)
        del self.load["warm-up"]

    def note_load(self, phase: str, server_cpu: float, wall: float, parts: list[Frame]) -> None:
        """How busy the server and the busiest generator were during `phase`."""
        busy = [100 * part["cpu_seconds"] / max(part["wall_seconds"], 1e-9) for part in parts]
        self.load[phase] = {
            "server_cpu_percent": round(100 * server_cpu / max(wall, 1e-9), 1),
            "generator_cpu_percent": round(max(busy), 1),
        }

    async def request_response(self) -> Frame:
        plan = self.plan
        seed = await self.generators[0].call("seed", 30)
        figures: Frame = {}
        split = shares(plan.rr_clients, len(self.generators))
        steps = [(transport, op) for transport in ("ws", "rest") for op in ("get", "create")]
        for number, (transport, operation) in enumerate(steps):
            cpu = self.server.cpu_seconds()
            calls = [
                generator.call(
                    "round_trips",
                    plan.rr_seconds + 60,
                    clients=count,
                    transport=transport,
                    operation=operation,
                    seconds=plan.rr_seconds,
                    entity_id=seed["id"],
                )
                for generator, count in zip(self.generators, split, strict=True)
                if count
            ]
            parts = await self.gathered(calls, plan.rr_seconds, number / 4, 1 / 4)
            errors = [sample for part in parts for sample in part["error_sample"]]
            if errors:
                raise BenchError(f"{transport} {operation} failed: {errors[0]}")
            latencies = [value for part in parts for value in part["latencies_ms"]]
            wall = max(part["wall_seconds"] for part in parts)
            figures[f"{transport}_{operation}"] = {
                "clients": plan.rr_clients,
                "ops": len(latencies),
                "ops_per_second": round(len(latencies) / wall, 1),
                **report.latency_figures(latencies),
            }
            self.note_load(
                f"rr_{transport}_{operation}", self.server.cpu_seconds() - cpu, wall, parts
            )
        for operation in ("get", "create"):
            ws, rest = figures[f"ws_{operation}"], figures[f"rest_{operation}"]
            share = ws["ops_per_second"] / max(rest["ops_per_second"], 1e-9)
            figures[f"ws_over_rest_{operation}"] = round(share, 2)
        return figures

    async def connect(self, count: int, stall: bool) -> tuple[Frame, Frame]:
        """Connect `count` more listeners (and join the room); the first one may stall later."""
        rss_before = self.server.rss_kib()
        remaining = shares(count, len(self.generators))
        results: list[Frame] = []
        began = time.monotonic()
        first = True
        while any(remaining):
            calls = []
            for number, generator in enumerate(self.generators):
                chunk = min(CONNECT_CHUNK, remaining[number])
                if not chunk:
                    continue
                remaining[number] -= chunk
                calls.append(
                    generator.call(
                        "connect",
                        60 + chunk * 0.2,
                        start=self.next_index,
                        count=chunk,
                        stalling=STALLED_ROUNDS if stall and first and number == 0 else 0,
                    )
                )
                self.next_index += chunk
            first = False
            results += await asyncio.gather(*calls)
            self.progress.update(sum(r["connected"] + r["failed"] for r in results) / count)
        seconds = time.monotonic() - began
        rss_after = self.server.rss_kib()
        connected = sum(result["connected"] for result in results)
        failures = [error for result in results for error in result["errors"]]
        if connected < count * 0.99:
            raise BenchError(f"{count - connected} of {count} clients failed: {failures[:1]}")
        times = [value for result in results for value in result["connect_ms"]]
        per_instance = [result["per_instance"] for result in results]
        figures = {
            "clients": count,
            "connected": connected,
            "failed": count - connected,
            "compressed": sum(result["compressed"] for result in results),
            "seconds": round(seconds, 3),
            "per_second": round(connected / seconds, 1),
            **{key: value for key, value in report.latency_figures(times).items()},
        }
        if len(self.server.ports) > 1:  # clients connected to each instance
            figures["per_instance"] = [sum(counts) for counts in zip(*per_instance, strict=True)]
        memory = {
            "rss_before_kib": rss_before,
            "rss_after_kib": rss_after,
            "per_connection_kib": round((rss_after - rss_before) / max(connected, 1), 2),
        }
        return figures, memory

    async def fan_out(
        self,
        label: str,
        count: int,
        rate: float | None,
        keep: bool = True,
        exclude_stalled: bool = False,
    ) -> tuple[Frame, list[float]]:
        """The publisher sends `count` messages (`rate` a second, or at once); every listener
        should receive each of them. Returns the figures and, if `keep`, every latency."""
        cpu, began = self.server.cpu_seconds(), time.monotonic()
        begins = await self.everyone("begin", 30, exclude_stalled=exclude_stalled)
        listeners = {key: sum(answer[key] for answer in begins) for key in LISTENERS}
        expected = listeners["counted"] * count
        duration = count / rate if rate else expected / 50_000  # what it should take
        ack_within = duration + 60 + expected / 10_000  # what it may take, at the most
        publish = self.generators[0].call(
            "publish",
            ack_within + 30,
            run=f"{label}-{secrets.token_hex(4)}",  # the service replays a known request id
            count=count,
            rate=rate,
            ack_within=ack_within,
        )
        (sent,) = await self.gathered([publish], duration, 0.0, 0.8)
        if sent["errors"]:
            raise BenchError(f"{label}: {sent['errors']} messages failed: {sent['error_sample']}")
        await self.wait_for(expected, budget=60 + expected / 5000)
        cpu = self.server.cpu_seconds() - cpu
        parts = await self.everyone("collect", 120, send_times=sent["send_times"], latencies=keep)
        self.note_load(label, cpu, time.monotonic() - began, parts)
        received = sum(part["received"] for part in parts)
        span = max(max(part["last_arrival"] for part in parts) - sent["first_send"], 1e-6)
        latencies = [value for part in parts for value in part["latencies_ms"]]
        figures = {
            "messages": count,
            "rate": rate,
            "listeners": listeners,
            "deliveries": received,
            "expected": expected,
            "lost": expected - received,
            "seconds": round(span, 3),
            "deliveries_per_second": round(received / span, 1),
            "cpu_us_per_delivery": round(cpu / max(received, 1) * 1e6, 2),
            **report.latency_figures(latencies),
        }
        return figures, latencies

    async def wait_for(self, expected: int, budget: float) -> None:
        """Until every delivery has arrived, none has for IDLE_TIMEOUT, or `budget` is spent."""
        began = time.monotonic()
        total, changed = -1, began
        while True:
            progress = await self.everyone("progress", 30)
            now = time.monotonic()
            received = sum(answer["received"] for answer in progress)
            self.progress.update(0.8 + 0.2 * received / max(expected, 1))
            if received >= expected or now - began > budget:
                return
            if received != total:
                total, changed = received, now
            elif now - changed > IDLE_TIMEOUT:
                return
            await asyncio.sleep(0.05)

    async def stalled(self, paced: Frame) -> Frame:
        """STALLED_ROUNDS paced runs, each with another client stalled; the others' figures are
        the medians of the rounds, as for the paced runs they are compared with. The counts
        (`lost` and the rest) are the rounds' sums, and `listeners` is as the last round ended."""
        plan = self.plan
        first = self.generators[0]
        rounds: list[Frame] = []
        codes: list[int | None] = []
        counts = {key: 0 for key in PACED_COUNTS}
        for _ in range(STALLED_ROUNDS):
            await first.call(
                "stall",
                30,
                ping_bytes=plan.stall_ping_bytes,
                pings_per_second=STALL_PINGS_PER_SECOND,
            )
            messages, rate = plan.paced_messages, plan.rate
            others, _ = await self.fan_out("stalled", messages, rate, exclude_stalled=True)
            after = await first.call("unstall", 90, wait_seconds=30)
            rounds.append(others)
            codes.append(after["close_code"])
            # Once evicted, the stalled client no longer counts; if it was not, it must have
            # caught up on the round's messages like any other listener.
            listeners = dict(others["listeners"])
            deliveries, expected = others["deliveries"], others["expected"]
            if after["evicted"]:
                listeners["evicted"] += 1
            else:
                listeners["counted"] += 1
                deliveries += after["received"]
                expected += messages
            counts["messages"] += messages
            counts["deliveries"] += deliveries
            counts["expected"] += expected
            counts["lost"] += expected - deliveries
        return {
            "p99_ms_without": paced["p99_ms"],
            "p99_ms_with": statistics.median(one["p99_ms"] for one in rounds),
            "max_ms_with": statistics.median(one["max_ms"] for one in rounds),
            **counts,
            "listeners": listeners,
            "rounds": STALLED_ROUNDS,
            "evicted": all(code == EVICTED for code in codes),
            "close_codes": codes,
        }

    async def sweep(self) -> list[Frame]:
        if not self.plan.sweep:
            return []
        await self.everyone("disconnect", 300)
        await self.generators[0].call("publisher", 30)
        self.next_index = 0
        points = []
        connected = 0
        for size in self.plan.sweep:
            self.progress.step(f"{self.name}: sweep, {size:,} clients")
            if size > connected:
                await self.connect(size - connected, stall=False)
                connected = size
                await self.warm_up(automatic_rate(size))
            rate = automatic_rate(size)
            paced, _ = await self.fan_out(f"sweep-{size}-paced", self.plan.sweep_messages, rate)
            burst, _ = await self.fan_out(
                f"sweep-{size}-burst", self.plan.sweep_burst, None, keep=False
            )
            points.append(
                {
                    "clients": size,
                    "rate": rate,
                    "p50_ms": paced["p50_ms"],
                    "p99_ms": paced["p99_ms"],
                    "max_ms": paced["max_ms"],
                    "deliveries_per_second": burst["deliveries_per_second"],
                    "cpu_us_per_delivery": burst["cpu_us_per_delivery"],
                    "lost": paced["lost"] + burst["lost"],
                    "listeners": burst["listeners"],
                }
            )
        return points


EVICTED = 1013
# Listeners that connected, those evicted (only stalled ones, with 1013), and those counted in
# `expected`: the connected but the evicted, so that a healthy client dropped is a loss.
LISTENERS = ["connected", "evicted", "counted"]
PACED_COUNTS = ["messages", "deliveries", "expected", "lost"]
BURST = ["messages", "listeners", "deliveries", "expected", "lost", "seconds"]
BURST += ["deliveries_per_second", "cpu_us_per_delivery"]


async def drive(
    server: Measured,
    project: Project,
    plan: Plan,
    presented: Frame,
    progress: Progress,
    fan_out_only: bool = False,
) -> tuple[Frame, list[float]]:
    starting = (LoadGenerator.start(number, project.root) for number in range(plan.generators))
    generators = list(await asyncio.gather(*starting))
    try:
        target = {
            "ports": server.ports,
            "http_port": server.http_port,
            "rooms": project.rooms,
            "room": ROOM,
            "entity": project.entity,
            "collection": project.collection,
            "sample": project.sample,
            "credentials": presented,
        }
        await asyncio.gather(*(generator.call("target", 30, **target) for generator in generators))
        driver = Driver(server, plan, generators, progress)
        return await (driver.run_fan_out() if fan_out_only else driver.run())
    finally:
        await asyncio.gather(*(generator.stop() for generator in generators))


# the whole run


def fan_out_note(project: Project) -> str:
    if project.rooms:
        return f"fan-out: room.publish to one room ({ROOM!r}); the publisher is not counted"
    return (
        f"fan-out: without rooms there is no room.publish, so the publisher sends "
        f"{project.entity}.create and every connection receives each {project.entity}.created"
    )


def meta(project: Project, plan: Plan) -> Frame:
    from importlib.metadata import version

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "project": {
            "package": project.package,
            "auth": project.auth,
            "rooms": project.rooms,
            "entity": project.entity,
            "collection": project.collection,
        },
        "fanout": fan_out_note(project),
        "baseline": f"websockets {version('websockets')}: a set of connections and broadcast()",
        "settings": {
            "clients": plan.clients,
            "sweep": plan.sweep,
            "generators": plan.generators,
            "rate": plan.rate,
            "paced_messages": plan.paced_messages,
            "burst": plan.burst,
            "sweep_messages": plan.sweep_messages,
            "sweep_burst": plan.sweep_burst,
            "rr_clients": plan.rr_clients,
            "rr_seconds": plan.rr_seconds,
            "stall_ping_bytes": plan.stall_ping_bytes,
            "compression": plan.compression,
            "instances": plan.instances,
        },
    }


def warnings(results: Frame, plan: Plan) -> list[str]:
    found = []
    for name in ("service", "baseline", "instances"):
        if name not in results:
            continue
        load = results[name]["load"]
        for phase, figures in load["phases"].items():
            if figures["generator_cpu_percent"] > BUSY_GENERATOR:
                busy = figures["generator_cpu_percent"]
                found.append(
                    f"{name}, {phase}: a load generator was {busy:.0f}% busy, so it may have "
                    f"slowed the figures down; compare with --generators {plan.generators + 1}"
                )
        ran = results[name]  # the instances ran neither the stalled rounds nor the sweep
        phases = {phase: ran[phase] for phase in ("paced", "stalled", "burst") if phase in ran}
        phases |= {f"sweep {point['clients']:,}": point for point in ran.get("sweep", [])}
        for phase, figures in phases.items():
            if figures["lost"]:
                found.append(f"{name}, {phase}: {figures['lost']} deliveries were lost")
        if "stalled" in ran and not ran["stalled"]["evicted"]:
            codes = ran["stalled"]["close_codes"]
            found.append(f"{name}: not every stalled client was evicted with 1013: {codes}")
    if (os.cpu_count() or 1) < 2:
        found.append("one CPU: the servers and the load generators share it")
    return found


def redis_for_instances(project: Project, plan: Plan) -> str | None:
    """The `redis-server` that `--instances` needs (None without the option); stops the run
    before anything starts when the service cannot run as instances or Redis is missing."""
    if plan.instances == 1:
        return None
    if "BACKPLANE_URL" not in project.settings:
        raise SystemExit("--instances: this service has no BACKPLANE_URL setting to share Redis")
    found = find_program()
    if found is None:
        print(f"python -m bench: {MISSING}", file=sys.stderr)
        raise SystemExit(2)
    return found


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    raise_fd_limit()
    root = Path.cwd()
    project = discover(root, arguments.package)
    plan = make_plan(arguments, project)
    redis_server = redis_for_instances(project, plan)
    out = arguments.out if arguments.out.is_absolute() else root / arguments.out
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress(2 * (6 + len(plan.sweep)) + 1 + (4 if redis_server else 0))
    results: Frame = {"meta": meta(project, plan)}
    latencies: dict[str, list[float]] = {}
    started = time.monotonic()
    presented_env, presented = credentials(project)
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        for name in ("service", "baseline"):
            progress.step(f"{name}: starting")
            workdir = Path(scratch) / name
            workdir.mkdir()
            if name == "service":
                start = partial(start_service, project, plan, workdir, presented_env)
            else:
                start = partial(start_baseline, project, plan, workdir)
            try:
                server = retrying(start)
            except BenchError as error:
                raise SystemExit(f"\n{error}") from None
            try:
                results[name], latencies[name] = asyncio.run(
                    drive(server, project, plan, presented, progress)
                )
            except BenchError as error:
                raise SystemExit(f"\n{name}: {error}\n{server.output()}") from None
            finally:
                stop(server.process, signal.SIGTERM, STOP_TIMEOUT)
                server.log.unlink(missing_ok=True)
        if redis_server:
            progress.step(f"{plan.instances} instances: starting Redis and the instances")
            workdir = Path(scratch) / "instances"
            workdir.mkdir()
            try:
                instances = start_instances(
                    project, plan, workdir, presented_env, RedisServer(redis_server, workdir)
                )
            except BenchError as error:
                raise SystemExit(f"\n{error}") from None
            try:
                figures, latencies["instances"] = asyncio.run(
                    drive(instances, project, plan, presented, progress, fan_out_only=True)
                )
            except BenchError as error:
                raise SystemExit(f"\n{instances.name}: {error}\n{instances.output()}") from None
            finally:
                instances.stop()
            results["instances"] = {"count": plan.instances, **figures}
            results["instances"] |= report.versus_one(figures, results["service"])
    progress.step("writing the results")
    results["ratio"] = report.ratios(results["service"], results["baseline"])
    results["warnings"] = warnings(results, plan)
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    json_path, png_path = out / "results.json", out / "results.png"
    report.write_json(json_path, results)
    drawn = report.draw(png_path, results, latencies)
    progress.finish()
    print(fan_out_note(project))
    print(f"{plan.clients:,} clients, {plan.rate:g} paced messages/s; ratio = service / baseline")
    print()
    print(report.table(results))
    if "instances" in results:
        print()
        print(report.instances_table(results))
    for warning in results["warnings"]:
        print(f"warning: {warning}")
    if drawn:
        print(f"\nwrote {json_path} and {png_path}")
    else:
        print(f"\nwrote {json_path}; no picture: matplotlib is missing (`make bench` installs it)")
