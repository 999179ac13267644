"""A bounded load for the example servers: N requests to 127.0.0.1 only, from C concurrent workers.

    python examples/load_digits.py --port 8099 --requests 500 [--concurrency 8] [--batch 1] [--shutdown]

Works with examples/serve_digits.py (one request at a time) and examples/serve_fastapi.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import urllib.error
import urllib.request

from sklearn.datasets import load_digits


def post(url: str, body: dict, timeout_s: float = 10.0) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read())


def wait_until_up(base: str, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while True:
        try:
            urllib.request.urlopen(base + "/footprint", timeout=1.0).read()
            return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > end:
                raise SystemExit(f"server at {base} did not answer within {deadline_s:.0f} s") from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1, help="images per request")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight at once (1-64)")
    parser.add_argument("--shutdown", action="store_true", help="stop the server afterwards")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the server to come up")
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000:
        raise SystemExit("--requests must be between 1 and 100000")
    if not 1 <= args.concurrency <= 64:
        raise SystemExit("--concurrency must be between 1 and 64")

    base = f"http://127.0.0.1:{args.port}"
    wait_until_up(base, args.wait)
    digits = load_digits()
    images, targets = digits.data.tolist(), digits.target.tolist()
    latencies: list[float] = []
    failures: list[str] = []
    correct = [0]
    next_request = iter(range(args.requests))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(next_request, None)
            if i is None:
                return
            idx = [(i * args.batch + j) % len(images) for j in range(args.batch)]
            t = time.perf_counter()
            try:
                answer = post(base + "/predict", {"images": [images[k] for k in idx]})
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                latencies.append(time.perf_counter() - t)
                correct[0] += sum(label == targets[k] for label, k in zip(answer["labels"], idx))

    t0 = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    if failures:
        print(f"{len(failures)} of {args.requests} requests failed, first: {failures[0]}")
    if not latencies:
        raise SystemExit("no request succeeded")
    print(f"{len(latencies)} requests in {elapsed:.1f} s ({len(latencies) / elapsed:.0f}/s) at concurrency "
          f"{args.concurrency}, median latency {statistics.median(latencies) * 1000:.1f} ms, accuracy "
          f"{correct[0] / (len(latencies) * args.batch):.1%}")
    if args.shutdown:
        post(base + "/shutdown", {})


if __name__ == "__main__":
    main()
