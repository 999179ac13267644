"""`mlfootprint dashboard`: the web app over the store (report/dashboard.py), on this machine only
unless told otherwise."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import MlfootprintError
from .app import StoreOpt, app, err


@app.command(short_help="A local web app over the stored runs")
def dashboard(
    host: Annotated[str, typer.Option(metavar="ADDRESS", help="Address to listen on (127.0.0.1: this machine "
                                      "only; 0.0.0.0 exposes the store's runs, commands and hosts to the network).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port (1-65535; 0: any free port, printed).")] = 8765,
    store: StoreOpt = None,
) -> None:
    """A local web app over the store: runs and jobs with filters, totals per project over time, run
    reports, two runs compared. Read-only on the store."""
    if not 0 <= port <= 65535:
        raise MlfootprintError(f"--port must be between 1 and 65535 (or 0 for any free port), got {port}")
    from ..extras import need

    need("the dashboard", "dashboard")  # starlette and uvicorn serve it; its run pages are the HTML report's
    import uvicorn

    from ..report.dashboard import create_app
    from .runs import reader

    reader(store)  # a missing or foreign store is one line now, not an error page later
    import socket

    # the socket is bound here and handed to the server: a port in use or an unknown host is one line, not
    # a log record, and the port printed is the one listened on (with --port 0, the one the system chose)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)  # from now on a browser's connection waits in the queue: the URL printed works
    except OSError as exc:
        listener.close()
        raise MlfootprintError(f"the dashboard cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    port = int(listener.getsockname()[1])
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"mlfootprint: the dashboard listens on {host}: anyone who can reach it can read the runs "
                  "(commands, hosts, settings)", markup=False)
    shown = f"[{host}]" if ":" in host else host
    err.print(f"dashboard on http://{shown}:{port}/ (Ctrl-C to stop)", markup=False)
    server = uvicorn.Server(uvicorn.Config(create_app(store, host, port), log_level="warning"))
    server.run(sockets=[listener])
