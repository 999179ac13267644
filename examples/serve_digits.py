"""Serve the digits CNN over HTTP under mlfootprint, with energy per request split into
pre-processing, inference and post-processing.

    python examples/serve_digits.py --port 8099 &          # trains for a few seconds, then serves
    python examples/load_digits.py --port 8099 --requests 500 --shutdown

POST /predict  {"images": [[64 pixel values 0-16], ...]}  →  {"labels": [...], "probabilities": [...]}
GET  /footprint  the run's live record (energy per request so far)
POST /shutdown   stop serving; the footprint is printed and stored

The server answers one request at a time (the standard library's HTTPServer); examples/serve_fastapi.py
answers many at once, with the same phases (each thread and task keeps its own, see mlfootprint.phases).
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import torch

import digits


def make_handler(run: Any, model: torch.nn.Module, stop: threading.Event) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep the terminal for the footprint
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/footprint":
                record = run.record.to_json()
                self._send(200, {k: record[k] for k in ("id", "energy_j", "phases", "counts")})
            else:
                self._send(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:
            if self.path == "/shutdown":
                self._send(200, {"stopping": True})
                stop.set()
                return
            if self.path != "/predict":
                self._send(404, {"error": f"no route {self.path}"})
                return
            with run.phase("preprocess"):
                try:
                    payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                    images = torch.tensor(payload["images"], dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
                except (ValueError, KeyError, TypeError, RuntimeError) as exc:
                    self._send(400, {"error": f"expected {{'images': [[64 numbers], ...]}}: {exc}"})
                    return
            with run.phase("inference", items=len(images)), torch.no_grad():
                logits = model(images)
            with run.phase("postprocess"):
                probs = torch.softmax(logits, dim=1)
                body = {"labels": probs.argmax(1).tolist(), "probabilities": probs.max(1).values.round(decimals=4).tolist()}
                self._send(200, body)
            run.count(requests=1, images=len(images))

    return Handler


def main() -> None:
    import mlfootprint
    from mlfootprint.report.format import fmt_co2e, fmt_energy
    from mlfootprint.report.terminal import print_run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--country", default=None)
    args = parser.parse_args()

    with mlfootprint.track(project="serve-digits", country=args.country) as run:
        with run.phase("train"):
            model, test_acc, train_acc = digits.train(args.epochs)
        model.eval()
        run.log_metrics(accuracy=test_acc, train_accuracy=train_acc)
        stop = threading.Event()
        server = HTTPServer(("127.0.0.1", args.port), make_handler(run, model, stop))
        server.timeout = 0.2
        print(f"serving on http://127.0.0.1:{args.port} (test accuracy {test_acc:.1%})", flush=True)
        with run.phase("serving"):
            while not stop.is_set():
                server.handle_request()
        server.server_close()

    record = run.record
    print_run(record, show_warnings=False)
    requests = record.counts.get("requests", 0)
    if requests:
        energy = {p.phase: p.energy_j for p in record.phases}  # IT energy per phase
        parts = {p: energy.get(f"serving/{p}", 0.0) for p in ("preprocess", "inference", "postprocess")}
        serving_j = energy["serving"]
        co2e_per_j = record.co2e_kg / record.energy_j if record.energy_j else 0.0  # operational, per J of IT energy
        print(f"{requests:.0f} requests: {fmt_energy(sum(parts.values()) / requests)} IT energy per request handled "
              f"(pre {fmt_energy(parts['preprocess'] / requests)}, inference {fmt_energy(parts['inference'] / requests)}, "
              f"post {fmt_energy(parts['postprocess'] / requests)}); "
              f"{fmt_energy(serving_j / requests)} per request with idle time between requests")
        per_1000 = serving_j / requests * 1000 * co2e_per_j
        print(f"CO2e operational per 1,000 requests (serving, idle included): {fmt_co2e(per_1000)}")


if __name__ == "__main__":
    main()
