"""TorchServe against in-process generation of the same model: sentences/s and p50/p95 latency.

At each concurrency C the in-process side calls `Generator.generate` with C requests at once (a
request's latency is the whole batch's time); the served side runs C client threads that each
send requests one after another to a TorchServe started from a fresh `soulsgen package` of the
model. Both sides alternate per concurrency level so that machine load hits them alike; figures
on a shared machine are noisy, compare the ratios.

    .venv/bin/python bench/serve.py --model artifacts/model [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from soulsgen_lib.model.generate import GenerationRequest, Generator
from soulsgen_lib.serving.client import TorchServeClient
from soulsgen_lib.serving.package import PackageOptions, package_model
from soulsgen_lib.serving.server import ServeOptions, ServerInfo, start_server, stop_server


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def in_process(generator: Generator, concurrency: int, rounds: int, seed: int) -> tuple[float, list[float]]:
    """(seconds, per-request latencies) for `rounds` batched calls of `concurrency` requests."""
    latencies, started = [], time.perf_counter()
    for round_index in range(rounds):
        batch = [GenerationRequest(seed=seed + round_index * concurrency + i) for i in range(concurrency)]
        begin = time.perf_counter()
        generator.generate(batch)
        latencies += [time.perf_counter() - begin] * concurrency
    return time.perf_counter() - started, latencies


def served(info: ServerInfo, concurrency: int, rounds: int, seed: int) -> tuple[float, list[float]]:
    """(seconds, per-request latencies) for `concurrency` threads sending `rounds` requests each."""
    token = info.keys().inference

    def worker(thread: int) -> list[float]:
        client = TorchServeClient(info.inference_url, token, timeout=300)
        times = []
        for round_index in range(rounds):
            begin = time.perf_counter()
            client.sentence(seed=seed + round_index * concurrency + thread)
            times.append(time.perf_counter() - begin)
        return times

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = [t for times in pool.map(worker, range(concurrency)) for t in times]
    return time.perf_counter() - started, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"), help="Model folder to serve.")
    parser.add_argument("--rounds", type=int, default=5, help="Requests per client thread (batches in-process).")
    parser.add_argument("--blocks", type=int, default=3, help="Alternating in-process/served blocks per level.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--port", type=int, default=18480, help="Base port of the benchmark's TorchServe.")
    parser.add_argument("--threads", type=int, default=None, help="Torch threads on both sides (default: torch's).")
    parser.add_argument(
        "--max-batch-delay", type=int, default=PackageOptions.max_batch_delay_ms, help="TorchServe's maxBatchDelay, ms."
    )
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    generator = Generator.load(args.model, device="cpu")
    print(
        f"model {generator.model_version}, torch threads {torch.get_num_threads()}, "
        f"{args.blocks} blocks x {args.rounds} rounds per level, maxBatchDelay {args.max_batch_delay} ms"
    )
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="soulsgen-bench-serve-") as folder:
        store, serve_dir = Path(folder) / "store", Path(folder) / "serve"
        options = PackageOptions(
            batch_size=max(args.concurrency), max_batch_delay_ms=args.max_batch_delay, torch_threads=args.threads
        )
        package_model(args.model, store, options=options)
        info = start_server(serve_dir, store, ServeOptions(base_port=args.port))
        try:
            client = TorchServeClient(info.inference_url, info.keys().inference, timeout=300)
            for warmup in range(3):
                client.sentence(seed=warmup)
                generator.generate([])
            rows = []
            for concurrency in args.concurrency:
                # Alternate short blocks so that changes in machine load hit both sides alike.
                local_time, remote_time, local, remote = 0.0, 0.0, [], []
                for block in range(args.blocks):
                    seed = 1000 + block * concurrency * args.rounds
                    elapsed, latencies = in_process(generator, concurrency, args.rounds, seed)
                    local_time, local = local_time + elapsed, local + latencies
                    elapsed, latencies = served(info, concurrency, args.rounds, seed)
                    remote_time, remote = remote_time + elapsed, remote + latencies
                rows.append((concurrency, len(local) / local_time, local, len(remote) / remote_time, remote))
        finally:
            stop_server(serve_dir)

    header = f"{'C':>3} | {'in-process sent/s':>17} {'p50 ms':>7} {'p95 ms':>7} | "
    header += f"{'TorchServe sent/s':>17} {'p50 ms':>7} {'p95 ms':>7} | {'throughput':>10} {'p50 +ms':>8}"
    print(header)
    print("-" * len(header))
    for concurrency, local_rate, local, served_rate, remote in rows:
        local_p50, remote_p50 = statistics.median(local) * 1000, statistics.median(remote) * 1000
        print(
            f"{concurrency:>3} | {local_rate:>17.1f} {local_p50:>7.0f} {percentile(local, 0.95) * 1000:>7.0f} | "
            f"{served_rate:>17.1f} {remote_p50:>7.0f} {percentile(remote, 0.95) * 1000:>7.0f} | "
            f"{served_rate / local_rate:>9.0%} {remote_p50 - local_p50:>+8.0f}"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("targets: at C=32 TorchServe >= 70% of in-process throughput; at C=1 p50 within +50 ms")


if __name__ == "__main__":
    main()
