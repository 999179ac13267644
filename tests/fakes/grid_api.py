"""A local HTTP server that answers like the GB Carbon Intensity API and Electricity Maps v3,
with the response shapes documented in shared/DATA_SOURCES.md (section 4), on 127.0.0.1 only."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOKEN = "test-token"


def gb_points(start: datetime, hours: int = 48) -> list[dict]:
    """Half-hourly forecasts: a dip to 60 g/kWh between 02:00 and 05:00 each day, 250 otherwise."""
    out = []
    t = start.replace(minute=0 if start.minute < 30 else 30, second=0, microsecond=0)
    for _ in range(hours * 2):
        value = 60 if 2 <= t.hour < 5 else 250
        out.append({"from": t.strftime("%Y-%m-%dT%H:%MZ"), "to": (t + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%MZ"),
                    "intensity": {"forecast": value, "actual": None, "index": "low" if value < 100 else "moderate"}})
        t += timedelta(minutes=30)
    return out


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        if url.path.startswith("/slow"):
            time.sleep(2.0)
            self._send(200, {})
        elif parts[:1] == ["intensity"] and len(parts) == 3 and parts[2] == "fw48h":
            try:
                start = datetime.strptime(parts[1], "%Y-%m-%dT%H:%MZ").replace(tzinfo=timezone.utc)
            except ValueError:
                self._send(400, {"error": {"code": "400 Bad Request", "message": "Please enter a valid date"}})
                return
            self._send(200, {"data": gb_points(start)})
        elif url.path == "/v3/carbon-intensity/forecast":
            if self.headers.get("auth-token") != TOKEN:
                self._send(401, {"error": "Unauthorized: invalid auth-token"})
                return
            zone = parse_qs(url.query).get("zone", [""])[0]
            if zone != "DE":
                self._send(404, {"status": "error", "message": f"Zone '{zone}' does not exist."})
                return
            now = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
            forecast = [{"carbonIntensity": 400 - (150 if 11 <= h % 24 <= 15 else 0),
                         "datetime": (now + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%S.000Z")} for h in range(24)]
            self._send(200, {"zone": zone, "forecast": forecast, "updatedAt": now.isoformat()})
        elif url.path == "/notjson":
            data = b"<html>maintenance</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self._send(404, {"error": {"code": "404", "message": "no such route"}})


class FakeGridApi:
    def __enter__(self) -> "FakeGridApi":
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
