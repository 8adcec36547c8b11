"""`bullpen metrics`: the Prometheus exporter (/metrics and /healthz)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Prometheus metrics read from bullpen's real state.", no_args_is_help=True)


@app.command("serve")
def serve(
    port: Annotated[int, typer.Option(help="Port for /metrics and /healthz.")] = 9464,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
) -> None:
    """Serve /metrics and /healthz until interrupted."""
    from bullpen.ops import health, metrics, targets
    from bullpen.ops.logs import configure_logging

    configure_logging()
    located, _ = targets.locate(start_embedded=True)
    registry = metrics.make_registry(located)

    def healthz() -> tuple[bool, list[dict[str, str]]]:
        fresh, problem = targets.locate()
        checks = health.run_checks(fresh, database_problem=problem)
        return health.is_healthy(checks), [c.as_dict() for c in checks]

    server = metrics.make_server(registry, healthz, host=host, port=port)
    typer.echo(f"bullpen metrics on http://{host}:{server.server_port}/metrics (and /healthz)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command("show")
def show() -> None:
    """Print one scrape's exposition text (what Prometheus would read)."""
    from bullpen.ops import metrics, targets

    located, _ = targets.locate(start_embedded=True)
    typer.echo(metrics.render(metrics.make_registry(located)).decode(), nl=False)
