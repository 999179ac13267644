"""The pictures in docs/screenshots/: real runs, their HTML reports and the dashboard's pages, shot by
headless Chromium (Debian's chromium and chromium-driver, through selenium, as tests/test_share.py does).

    .venv/bin/python tools/screenshots.py [--out docs/screenshots] [--keep DIR]

What it measures, in a store of its own (nothing touches yours):
* examples/digits.py under the meter twice: 4 epochs in FR and 8 epochs in PL (the compare page);
* examples/serve_fastapi.py under `mlfootprint serve`, loaded by examples/load_digits.py (3,000 requests
  from 8 concurrent clients sending 4 images each, 4 s idle, then 1,500 from one client sending 1), for the
  serving report;
* twenty projects, each a `mlfootprint track` of a busy loop of a different length; their start dates
  are then spread over the last five days in this store's copy (SQL on the runs table), so the projects
  chart has days to show. That is the one thing here that did not happen as shown;
* a two-rank job (`track --job`, RANK/WORLD_SIZE set as torchrun sets them).

The jobs page is shot before and after the job, so both the empty page and a listed job are pictured.
docs/screenshots/README.md says what each picture shows.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CLI = [PY, "-m", "mlfootprint"]
WIDTH = 1200
MAX_HEIGHT = 6000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:6])} … failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def run_id(done: subprocess.CompletedProcess[str]) -> str:
    """The run id `track -q` / `serve -q` prints last on stderr."""
    return done.stderr.strip().splitlines()[-1].strip()


def wait_for(url: str, deadline_s: float = 60.0) -> None:
    end = time.monotonic() + deadline_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.3)


def digits(env: dict[str, str], tmp: Path, country: str, epochs: int) -> str:
    run([PY, str(ROOT / "examples" / "digits.py"), "--epochs", str(epochs), "--country", country,
         "--project", "digits", "--report", str(tmp / f"digits-{country}-own.html")], env)
    rows = sqlite3.connect(tmp / "runs.db").execute("SELECT id FROM runs ORDER BY started_at DESC LIMIT 1")
    return str(rows.fetchone()[0])


def serving(env: dict[str, str], tmp: Path) -> str:
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "-q", "--metrics-url", f"http://127.0.0.1:{port}/metrics", "--requests-counter",
         "digits_requests_total", "--tokens-counter", "digits_images_total", "--country", "DE", "--window", "2",
         "--project", "digits-serve", "--", PY, str(ROOT / "examples" / "serve_fastapi.py"), "--port", str(port),
         "--epochs", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    load = [PY, str(ROOT / "examples" / "load_digits.py"), "--port", str(port)]
    run([*load, "--requests", "3000", "--concurrency", "8", "--batch", "4", "--wait", "180"], env)
    time.sleep(4)  # two idle windows between the bursts
    run([*load, "--requests", "1500", "--concurrency", "1", "--shutdown"], env)
    _, err = server.communicate(timeout=120)
    if server.returncode != 0:
        raise SystemExit(f"serve failed ({server.returncode}):\n{err[-3000:]}")
    return err.strip().splitlines()[-1].strip()


def projects(env: dict[str, str], tmp: Path, n: int = 20) -> None:
    """Twenty projects of different sizes, dated over the last five days."""
    names = ["bert-finetune", "resnet50-imagenet", "llama-lora", "whisper-small", "vit-base", "gpt2-pretrain",
             "t5-summarize", "yolo-detect", "unet-segment", "clip-retrieval", "mnist-baseline", "rl-atari",
             "diffusion-tiny", "bert-distill", "xgboost-tabular", "speech-ctc", "graph-gnn", "recsys-dlrm",
             "ocr-crnn", "tokenizer-train"][:n]
    for i, name in enumerate(names):
        seconds = 0.2 + 0.15 * ((i * 7) % n)
        run([*CLI, "track", "-q", "--project", name, "--country", "FR", "--", PY, "-c",
             f"import time\nt = time.time()\nwhile time.time() - t < {seconds}: pass"], env)
    db = sqlite3.connect(tmp / "runs.db")
    today = datetime.now(timezone.utc)
    for i, name in enumerate(names):
        day = (today - timedelta(days=i % 5)).strftime("%Y-%m-%d")
        db.execute("UPDATE runs SET started_at = ? || substr(started_at, 11) WHERE project = ?", (day, name))
    db.commit()
    db.close()


def job(env: dict[str, str]) -> None:
    ranks = [subprocess.Popen([*CLI, "track", "-q", "--project", "ddp-digits", "--job", "shots:ddp", "--", PY,
                               "-c", f"import time\nt = time.time()\nwhile time.time() - t < {1.0 + rank}: pass"],
                              env=dict(env, RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    for p in ranks:
        _, err = p.communicate(timeout=120)
        if p.returncode != 0:
            raise SystemExit(f"a rank failed:\n{err[-2000:]}")


def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not binary or not driver:
        raise SystemExit("needs chromium and chromedriver (bash .ci/packages.sh installs Debian's)")
    options = Options()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                f"--window-size={WIDTH},400"):  # short: a short page is not padded to the window
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


def shoot(b: Any, url: str, path: Path) -> None:
    """The whole page as laid out at WIDTH (at most MAX_HEIGHT tall), through Chrome's DevTools protocol:
    the content's own height, whatever the window's."""
    b.get(url)
    size = b.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(MAX_HEIGHT, size["height"]), "scale": 1}
    shot = b.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"  {path.name}: {url}")


def measure(env: dict[str, str], tmp: Path) -> dict[str, str]:
    """Every run the pictures show, in tmp/runs.db (and tmp/before-job.db: the same store before the job)."""
    print("measuring (a few minutes) …")
    ids = {"fr": digits(env, tmp, "FR", 4), "pl": digits(env, tmp, "PL", 8), "serving": serving(env, tmp)}
    projects(env, tmp)
    shutil.copy(tmp / "runs.db", tmp / "before-job.db")
    job(env)
    (tmp / "ids.txt").write_text("".join(f"{k}={v}\n" for k, v in ids.items()))
    return ids


def dashboard(env: dict[str, str], store: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen([*CLI, "dashboard", "--port", str(port), "--store", str(store)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_for(base + "/")
    return server, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--keep", type=Path, help="keep the store and reports in this folder; if it already holds "
                        "them (an earlier --keep), shoot them again without measuring")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlfp-shots-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFOOTPRINT_")}
    env.update(MLFOOTPRINT_STORE=str(tmp / "runs.db"), PYTHONPATH=str(ROOT / "examples"))
    if (tmp / "ids.txt").exists():
        ids = dict(line.split("=", 1) for line in (tmp / "ids.txt").read_text().split())
    else:
        ids = measure(env, tmp)
    for name, ident in (("digits-FR", ids["fr"]), ("serving", ids["serving"])):  # this checkout's templates
        run([*CLI, "report", ident, "-o", str(tmp / f"{name}.html")], env)
    servers = []
    b = browser()
    try:
        print("shooting …")
        shoot(b, (tmp / "digits-FR.html").as_uri(), args.out / "report-digits.png")
        shoot(b, (tmp / "serving.html").as_uri(), args.out / "report-serving.png")
        server, before = dashboard(env, tmp / "before-job.db")
        servers.append(server)
        shoot(b, before + "/jobs", args.out / "dashboard-jobs-empty.png")
        server, base = dashboard(env, tmp / "runs.db")
        servers.append(server)
        shoot(b, base + "/jobs", args.out / "dashboard-jobs.png")
        shoot(b, base + "/job/shots:ddp", args.out / "dashboard-job.png")
        shoot(b, base + "/", args.out / "dashboard-runs.png")
        shoot(b, f"{base}/run/{ids['fr']}", args.out / "dashboard-run.png")
        shoot(b, f"{base}/compare?a={ids['fr']}&b={ids['pl']}", args.out / "dashboard-compare.png")
        shoot(b, base + "/projects", args.out / "dashboard-projects.png")
    finally:
        b.quit()
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    if args.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"store and reports: {tmp}")


if __name__ == "__main__":
    main()
