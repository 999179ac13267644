"""The digits CNN behind FastAPI on uvicorn, measured per request under concurrent load.

    python examples/serve_fastapi.py --port 8099 [--batching] &      # trains a few seconds, then serves
    python examples/load_digits.py --port 8099 --requests 400 --concurrency 8 --shutdown

POST /predict   {"images": [[64 pixel values 0-16], ...]} -> {"labels": [...], "probabilities": [...]}
GET  /metrics   Prometheus counters: digits_requests_total, digits_images_total (what `mlfootprint serve`
                scrapes when it runs this server unmodified)
GET  /footprint the run's live figures (energy per request so far)
POST /shutdown  stop serving; the footprint is stored

`FootprintMiddleware` makes every request a `request` phase; the endpoint splits it into
`preprocess`, `inference` and `postprocess`. Requests overlap (async endpoint, the model runs in a
worker thread), and each moment's energy is shared between the requests in flight. `--batching`
turns on dynamic batching: requests that arrive within `--batch-wait-ms` of each other share one
forward pass of up to `--max-batch` requests, which is what serving engines do to raise throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI, HTTPException, Request, Response  # module level: FastAPI resolves annotations here
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from mlfootprint.integrations.asgi import FootprintMiddleware, footprint_run

sys.path.insert(0, str(Path(__file__).resolve().parent))
import digits  # noqa: E402


class Batcher:
    """Dynamic batching: queue requests, run one forward pass per batch in a worker thread."""

    def __init__(self, model: torch.nn.Module, max_batch: int, wait_s: float) -> None:
        self.model, self.max_batch, self.wait_s = model, max_batch, wait_s
        self.queue: asyncio.Queue[tuple[torch.Tensor, asyncio.Future[torch.Tensor]]] = asyncio.Queue()
        self.batches = 0

    async def infer(self, images: torch.Tensor) -> torch.Tensor:
        future: asyncio.Future[torch.Tensor] = asyncio.get_running_loop().create_future()
        await self.queue.put((images, future))
        return await future

    async def loop(self) -> None:
        while True:
            first = await self.queue.get()
            batch = [first]
            deadline = asyncio.get_running_loop().time() + self.wait_s
            while len(batch) < self.max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), timeout))
                except asyncio.TimeoutError:
                    break
            sizes = [len(x) for x, _ in batch]
            logits = await asyncio.to_thread(_forward, self.model, torch.cat([x for x, _ in batch]))
            self.batches += 1
            for (_, future), part in zip(batch, torch.split(logits, sizes)):
                if not future.done():
                    future.set_result(part)


def _forward(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(images)


def build_app(model: torch.nn.Module, *, batching: bool, max_batch: int, wait_s: float, project: str) -> Any:
    registry = CollectorRegistry()
    requests_total = Counter("digits_requests", "Prediction requests answered", registry=registry)
    images_total = Counter("digits_images", "Images classified", registry=registry)
    batcher = Batcher(model, max_batch, wait_s) if batching else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(batcher.loop()) if batcher is not None else None
        yield
        if task is not None:
            task.cancel()

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(FootprintMiddleware, project=project)
    app.state.should_exit = None

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        run = footprint_run()
        with run.phase("preprocess"):
            try:
                payload = await request.json()
                images = torch.tensor(payload["images"], dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
            except (ValueError, KeyError, TypeError, RuntimeError) as exc:
                raise HTTPException(400, f"expected {{'images': [[64 numbers], ...]}}: {exc}") from None
        with run.phase("inference", items=len(images)):
            if batcher is not None:
                logits = await batcher.infer(images)
            else:
                logits = await asyncio.to_thread(_forward, model, images)
        with run.phase("postprocess"):
            probs = torch.softmax(logits, dim=1)
            body = {"labels": probs.argmax(1).tolist(), "probabilities": probs.max(1).values.round(decimals=4).tolist()}
        run.count(images=len(images))
        requests_total.inc()
        images_total.inc(len(images))
        return body

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/footprint")
    async def footprint() -> dict[str, Any]:
        run = footprint_run()
        return {"run_id": run.id, "pid": os.getpid(), "energy_j": run.energy_j, "counts": dict(run.counts),
                "batches": batcher.batches if batcher else None}

    @app.post("/shutdown")
    async def shutdown() -> dict[str, bool]:
        if app.state.should_exit is not None:
            app.state.should_exit()
        return {"stopping": True}

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batching", action="store_true", help="dynamic batching of concurrent requests")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the default leaves cores to the load)")
    parser.add_argument("--project", default="serve-fastapi")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model, test_acc, _ = digits.train(args.epochs)
    model.eval()
    app = build_app(model, batching=args.batching, max_batch=args.max_batch, wait_s=args.batch_wait_ms / 1000,
                    project=args.project)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning"))

    def stop() -> None:
        server.should_exit = True
    app.state.should_exit = stop
    print(f"serving on http://127.0.0.1:{args.port} (test accuracy {test_acc:.1%}, "
          f"batching {'on' if args.batching else 'off'})", flush=True)
    server.run()


if __name__ == "__main__":
    main()
