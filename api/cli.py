"""The ``telemed`` command: serve, project, relay, rebuild, audit verify, keys, accounts."""

from __future__ import annotations

import logging
import signal
import sys
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from adapters.settings import Settings
from api.composition import Services, build
from domain.actor import Role

cli = typer.Typer(help="Telemed: event-sourced telemedicine backend", no_args_is_help=True)
audit_cli = typer.Typer(help="Tamper evidence of the event store and access log")
keys_cli = typer.Typer(help="Master and data keys")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(keys_cli, name="keys")
console = Console(stderr=True, soft_wrap=True)  # paths and URLs stay on one line
#: roles that work for organisations (patients and compliance officers work for none)
ORGANISATION_ROLES = frozenset(Role) - {Role.PATIENT, Role.COMPLIANCE_OFFICER, Role.SYSTEM}


def _services(settings: Settings | None = None) -> Services:
    settings = settings or Settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    services = build(settings)
    if services.keyring_created:
        console.print(
            f"Created the master keyring: {settings.keyring_path.resolve()} (mode 0600)."
            " Back it up: without it no personal data can be read."
        )
    return services


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
) -> None:
    """Run the HTTP API (and, in the embedded mode, the projections in-process)."""
    import uvicorn

    from api.app import create_app

    settings = Settings()
    if host or port:  # links in mail follow where it listens, unless TELEMED_PUBLIC_URL is set
        settings = Settings(host=host or settings.host, port=port or settings.port)
    services = _services(settings)
    bind_host, bind_port = settings.host, settings.port
    store = "PostgreSQL" if settings.is_postgres else f"SQLite ({settings.database_url})"
    console.print(f"Event store: {store}; projections: {settings.projections}")
    console.print(f"API docs: http://{bind_host}:{bind_port}/docs  (OpenAPI: /openapi.json)")
    console.print(f"Mail: {services.outbox.transport}; links to {settings.public_url}")
    try:
        uvicorn.run(
            create_app(services),
            host=bind_host,
            port=bind_port,
            access_log=False,
            log_level=settings.log_level.lower(),
        )
    finally:
        services.close()


@cli.command()
def project() -> None:
    """Run the projection worker (production: one or more processes beside the API)."""
    services = _services()
    signal.signal(signal.SIGTERM, lambda *_: services.worker.stopping.set())
    console.print(f"Projection worker for: {', '.join(services.runners)}")
    try:
        services.worker.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        services.close()


@cli.command()
def relay() -> None:
    """Publish the event stream to Kafka (TELEMED_KAFKA_BOOTSTRAP); one active at a time."""
    services = _services()
    if not services.settings.kafka_bootstrap:
        console.print("Set TELEMED_KAFKA_BOOTSTRAP (host:port of the Kafka brokers)")
        services.close()
        raise typer.Exit(2)
    publisher = services.relay()
    signal.signal(signal.SIGTERM, lambda *_: publisher.stop())
    console.print(f"Relaying to Kafka at {services.settings.kafka_bootstrap}")
    try:
        publisher.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        publisher.close()
        services.close()


@cli.command()
def rebuild(name: Annotated[str, typer.Argument(help="read model to rebuild from zero")]) -> None:
    """Rebuild one read model from the first event, with a progress bar."""
    services = _services()
    try:
        runner = services.runners.get(name)
        if runner is None:
            console.print(f"Unknown read model {name!r}; known: {', '.join(services.runners)}")
            raise typer.Exit(2)
        runner.reset()
        head = services.recorder.max_notification_id() or 0
        columns = (
            *Progress.get_default_columns()[:1],
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"rebuilding {name}", total=head)
            runner.run_until_caught_up(
                lambda pos, last: progress.update(task, completed=pos, total=last)
            )
            progress.update(task, completed=runner.position())
        console.print(f"{name}: rebuilt up to position {runner.position()}")
    finally:
        services.close()


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the hash chains of the event store and the access log."""
    from api.audit import verify_all

    services = _services()
    try:
        report = verify_all(services)
    finally:
        services.close()
    for chain in report["chains"]:
        if chain["ok"]:
            typer.echo(f"{chain['chain']}: OK ({chain['checked']} records)")
        else:
            typer.echo(
                f"{chain['chain']}: BROKEN at position {chain['broken_at']}: {chain['reason']}"
            )
    raise typer.Exit(0 if report["ok"] else 1)


@keys_cli.command("rotate-master")
def rotate_master(
    retire_old: Annotated[bool, typer.Option(help="drop old master keys once unused")] = False,
) -> None:
    """Re-wrap every data key under a new master key (events are not touched)."""
    services = _services()
    try:
        kid, count = services.keys.rotate_master(retire_old=retire_old)
    finally:
        services.close()
    typer.echo(f"new master key {kid}; re-wrapped {count} data keys")


account_cli = typer.Typer(help="Sign-in accounts")
cli.add_typer(account_cli, name="account")


@account_cli.command("create")
def create_account(
    email: Annotated[str, typer.Option(help="sign-in email")],
    role: Annotated[Role, typer.Option(help="role of the account")],
    organisation: Annotated[UUID | None, typer.Option(help="organisation id")] = None,
) -> None:
    """Create an account: an organisation's first admin (``--organisation``), or a compliance
    officer (no organisation). The password is read from the terminal, or from stdin."""
    if role is Role.SYSTEM:
        console.print("System actors are OAuth clients of an organisation, not accounts")
        raise typer.Exit(2)
    if (organisation is None) == (role in ORGANISATION_ROLES):
        console.print(
            f"A {role.value} works for an organisation: add --organisation ID"
            if organisation is None
            else f"A {role.value} belongs to no organisation: leave out --organisation"
        )
        raise typer.Exit(2)
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    services = _services()
    try:
        account_id = services.accounts.open(email, password, role, organisation)
    finally:
        services.close()
    typer.echo(
        f"account {account_id} ({role.value}); two-factor set-up is required at sign-in"
        if role is not Role.PATIENT
        else f"account {account_id} (patient)"
    )


def main() -> None:
    sys.exit(cli())
