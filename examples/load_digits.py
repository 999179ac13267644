"""A bounded load for examples/serve_digits.py: N requests, one at a time, to 127.0.0.1 only.

    python examples/load_digits.py --port 8099 --requests 500 [--batch 1] [--shutdown]
"""

from __future__ import annotations

import argparse
import json
import statistics
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
    parser.add_argument("--shutdown", action="store_true", help="stop the server afterwards")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the server to come up")
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000:
        raise SystemExit("--requests must be between 1 and 100000")

    base = f"http://127.0.0.1:{args.port}"
    wait_until_up(base, args.wait)
    digits = load_digits()
    images, targets = digits.data.tolist(), digits.target.tolist()
    latencies, correct = [], 0
    t0 = time.perf_counter()
    for i in range(args.requests):
        idx = [(i * args.batch + j) % len(images) for j in range(args.batch)]
        t = time.perf_counter()
        answer = post(base + "/predict", {"images": [images[k] for k in idx]})
        latencies.append(time.perf_counter() - t)
        correct += sum(label == targets[k] for label, k in zip(answer["labels"], idx))
    elapsed = time.perf_counter() - t0
    print(f"{args.requests} requests in {elapsed:.1f} s ({args.requests / elapsed:.0f}/s), median latency "
          f"{statistics.median(latencies) * 1000:.1f} ms, accuracy {correct / (args.requests * args.batch):.1%}")
    if args.shutdown:
        post(base + "/shutdown", {})


if __name__ == "__main__":
    main()
