"""`just bench`: throughput of the full flow against the bare detectors, in one process run.

    just bench [--json] [--sensors 200] [--hours 24] [--no-kafka] [--kafka-bootstrap HOST:PORT]
    just bench --scaling [--json] [--sensors 400] [--hours 8] [--rounds 1] [--no-kafka]
                         [--no-server-lake]

Prints, side by side, the full flow and the bare detectors (`dataflows.bench.throughput`),
each model's cost (`dataflows.bench.detector_cost`), memory (`dataflows.bench.memory`) and,
with a broker, the Kafka path and its latency (`dataflows.bench.kafka`); `--json` prints
the same figures as one JSON object. `--scaling` runs only the scaling benchmark
(`dataflows.bench.scaling`): 1 worker, 2 workers and 2 processes, side by side, on the
SQLite lake and on a lake on temporary PostgreSQL and S3Proxy servers (`--rounds N`: each
shape N times, in turn, and the medians).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from dataflows.bench import memory as bench_memory
from dataflows.bench.detector_cost import detector_costs
from dataflows.bench.memory import progress
from dataflows.bench.throughput import (
    START,
    TARGET_DETECTOR_US,
    TARGET_FLOW_RATE,
    TARGET_RATIO,
    bench_bare,
    bench_flow,
    peak_rss_mb,
    simulated_readings,
)
from dataflows.cli import console
from dataflows.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--sensors", type=int, default=200)
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours")
    parser.add_argument("--no-kafka", action="store_true", help="skip the Kafka path")
    parser.add_argument(
        "--kafka-bootstrap", help="use this broker instead of starting a temporary one"
    )
    parser.add_argument("--latency-rate", type=float, default=10_000.0, help="readings/s")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--cap-devices", type=int, default=10, help="devices at the metric cap")
    parser.add_argument("--cap-rows", type=int, default=3_000, help="readings of each")
    parser.add_argument(
        "--scaling", action="store_true", help="only the scaling benchmark (workers, processes)"
    )
    parser.add_argument(
        "--no-server-lake",
        action="store_true",
        help="--scaling: skip the lake on temporary PostgreSQL and S3Proxy servers",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="--scaling: run every shape this often, in turn"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.scaling:
        return _scaling(args)

    settings = replace(
        Settings.from_env({}),
        sim_sensors=args.sensors,
        sim_assets=0,  # the sensors' path; what the maintenance model costs is in the cost table
        sim_hours=args.hours,
        sim_speedup=0.0,
        sim_start=START,
        compact_every_s=0.0,
    )
    progress(f"full flow: {args.sensors} sensors, {args.hours:g} simulated hours, 1 worker")
    flow = bench_flow(settings)
    flow_rss = peak_rss_mb()
    progress(f"  {flow['readings']:,} readings in {flow['seconds']:.1f} s")
    progress("bare detectors: materialising the same readings")
    readings = simulated_readings(settings)
    progress(f"  scoring {sum(len(r[3]) for r in readings):,} readings")
    bare = bench_bare(readings)
    progress("cost of each model of the suite")
    costs = detector_costs(readings)
    ratio = flow["readings_per_s"] / bare["readings_per_s"]
    result = {
        "sensors": args.sensors,
        "simulated_hours": args.hours,
        "flow_readings": flow["readings"],
        "flow_seconds": round(flow["seconds"], 3),
        "flow_readings_per_s": round(flow["readings_per_s"]),
        "flow_us_per_reading": round(1e6 / flow["readings_per_s"], 2),
        "flow_peak_rss_mb": round(flow_rss, 1),
        "bare_readings": bare["readings"],
        "bare_readings_per_s": round(bare["readings_per_s"]),
        "bare_us_per_reading": round(1e6 / bare["readings_per_s"], 2),
        "ratio_flow_to_bare": round(ratio, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "target_flow_readings_per_s": TARGET_FLOW_RATE,
        "target_ratio": TARGET_RATIO,
        "cpu_count": os.cpu_count(),
        "detector_cost_us": costs,
        "target_detector_cost_us": TARGET_DETECTOR_US,
    }
    progress(f"memory at the metric cap: a replay of {args.cap_devices} devices")
    result.update(bench_memory.metric_cap(settings, args.cap_devices, args.cap_rows))
    if not args.no_kafka:
        from dataflows.bench import kafka as bench_kafka

        result.update(
            bench_kafka.run(
                settings,
                args.kafka_bootstrap,
                latency_rate=args.latency_rate,
                latency_seconds=args.latency_seconds,
            )
        )
        result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if args.json:
        print(json.dumps(result))
        return 0
    meets = {True: "meets target", False: "BELOW target"}
    print(f"{'':28}{'flow (1 worker)':>18}{'bare detectors':>18}")
    print(f"{'readings':28}{result['flow_readings']:>18,}{result['bare_readings']:>18,}")
    print(
        f"{'readings/s':28}{result['flow_readings_per_s']:>18,}{result['bare_readings_per_s']:>18,}"
    )
    print(
        f"{'µs per reading':28}{result['flow_us_per_reading']:>18}"
        f"{result['bare_us_per_reading']:>18}"
    )
    print(f"{'peak RSS (MiB)':28}{result['flow_peak_rss_mb']:>18}{result['peak_rss_mb']:>18}")
    print(
        f"flow readings/s {result['flow_readings_per_s']:,} vs target {TARGET_FLOW_RATE:,.0f}: "
        f"{meets[result['flow_readings_per_s'] >= TARGET_FLOW_RATE]}"
    )
    print(f"ratio flow/bare {ratio:.3f} vs target {TARGET_RATIO}: {meets[ratio >= TARGET_RATIO]}")
    print()
    print(f"{'model':38}{'µs per reading':>16}")
    for name, cost in costs.items():
        print(f"{name:38}{cost:>16}")
    for signal in ("rhythmic", "recorded"):
        default = costs[f"default ({signal})"]
        print(
            f"default detector ({signal}) {default} µs vs target {TARGET_DETECTOR_US:g} µs: "
            f"{meets[default <= TARGET_DETECTOR_US]}"
        )
    print()
    print(
        f"memory at the metric cap ({result['cap_devices']} devices x "
        f"{result['cap_metrics_per_message']} metrics, {result['cap_messages']:,} messages): "
        f"peak RSS {result['cap_rss_peak_first_half_mb']} MiB in the first half, "
        f"{result['cap_rss_peak_second_half_mb']} MiB in the second, ratio "
        f"{result['cap_rss_second_to_first_half']} (1.0 = bounded)"
    )
    if "hostile_rss_peak_mb" in result:
        h = result
        print(f"{'Kafka flow':28}{'clean stream':>18}{'hostile stream':>18}")
        print(f"{'messages':28}{h['clean_messages']:>18,}{h['hostile_messages']:>18,}")
        print(f"{'hostile messages':28}{0:>18,}{h['hostile_hostile_messages']:>18,}")
        print(f"{'completed':28}{h['clean_completed']!s:>18}{h['hostile_completed']!s:>18}")
        print(
            f"{'readings stored / sent':28}"
            f"{h['clean_readings_stored']:>9,}/{h['clean_readings_sent']:<8,}"
            f"{h['hostile_readings_stored']:>9,}/{h['hostile_readings_sent']:<8,}"
        )
        print(f"{'peak RSS (MiB)':28}{h['clean_rss_peak_mb']:>18}{h['hostile_rss_peak_mb']:>18}")
        print(f"{'seconds':28}{h['clean_seconds']:>18}{h['hostile_seconds']:>18}")
        print(f"peak RSS hostile/clean {h['hostile_to_clean_rss_peak']}")
    if "kafka_flow_readings_per_s" in result:
        k = result
        print()
        print(f"{'Kafka path':28}{'flow (1 worker)':>18}{'bare consumer':>18}")
        print(
            f"{'readings/s':28}{k['kafka_flow_readings_per_s']:>18,}"
            f"{k['kafka_bare_consumer_readings_per_s']:>18,}"
        )
        kratio = k["kafka_ratio_flow_to_bare"]
        print(f"ratio flow/bare consumer {kratio:.3f} vs target 0.5: {meets[kratio >= 0.5]}")
        print(
            f"latency produce→visible in lake at {k['latency_offered_readings_per_s']:,.0f} "
            f"readings/s offered: p50 {k['latency_p50_s']} s, p99 {k['latency_p99_s']} s "
            f"({k['latency_readings_seen']:,} of {k['latency_readings_sent']:,} seen); "
            f"target p99 ≤ 2 s: {meets[k['latency_p99_s'] <= 2.0]}"
        )
    return 0


def _scaling(args: argparse.Namespace) -> int:
    """`--scaling`: the shapes of the flow side by side (temporary broker and servers)."""
    from dataflows.bench import scaling

    sensors = args.sensors if args.sensors != 200 else 400  # the measured size
    hours = args.hours if args.hours != 24.0 else 8.0
    with ExitStack() as stack:
        bootstrap = None if args.no_kafka else args.kafka_bootstrap
        if not args.no_kafka and bootstrap is None:
            bootstrap = stack.enter_context(_temporary_broker()).bootstrap
        servers = None if args.no_server_lake else stack.enter_context(_temporary_servers())
        figures = scaling.scaling(sensors, hours, bootstrap, servers, args.rounds)
    figures["cpu_count"] = os.cpu_count()
    if args.json:
        print(json.dumps(figures))
    else:
        scaling.print_table(figures)
    return 0


@contextmanager
def _temporary_broker() -> Iterator[Any]:
    from dataflows.kafka import broker as kafka_broker

    with tempfile.TemporaryDirectory(prefix="city-bench-broker-") as home:
        broker = kafka_broker.Broker(Path(home), kafka_broker.free_port_pair())
        progress(f"starting a Kafka broker at {broker.bootstrap} ...")
        kafka_broker.start(broker)
        try:
            yield broker
        finally:
            kafka_broker.stop(broker)


@contextmanager
def _temporary_servers() -> Iterator[tuple[Any, Any]]:
    """PostgreSQL and S3Proxy on free ports, under folders removed afterwards."""
    from dataflows.kafka.broker import free_port_pair
    from dataflows.servers import postgres as pg
    from dataflows.servers import s3 as s3_server

    # PostgreSQL runs as its own user when this runs as root: a home outside private folders
    pg_home = Path(tempfile.mkdtemp(prefix="city-bench-postgres-"))
    s3_home = Path(tempfile.mkdtemp(prefix="city-bench-s3-"))
    pg_port = free_port_pair()  # and the next one
    s3_port = pg_port + 1
    postgres = pg.PostgresServer(pg_home, pg_port)
    s3 = s3_server.S3Server(s3_home, s3_port)
    progress(f"starting PostgreSQL at 127.0.0.1:{pg_port} and S3Proxy at 127.0.0.1:{s3_port} ...")
    try:
        pg.start(postgres)
        s3_server.start(s3)
        yield postgres, s3
    finally:
        s3_server.stop(s3)
        pg.stop(postgres)
        shutil.rmtree(pg_home, ignore_errors=True)
        shutil.rmtree(s3_home, ignore_errors=True)


run = console(main)


if __name__ == "__main__":
    run()
