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

from adapters.composition import Services, build
from adapters.crypto.key_binding import KeyringMismatch
from adapters.settings import Settings
from commands.accounts import OpenAccount
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
    try:
        services = build(settings)
    except KeyringMismatch as refused:
        console.print(f"[bold red]Refusing to start:[/] {refused}", highlight=False, soft_wrap=True)
        raise typer.Exit(3) from None
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
def audit_verify(
    public_key: Annotated[
        str | None,
        typer.Option(help="the published key (ed25519:...) to check checkpoints with"),
    ] = None,
) -> None:
    """Recompute the hash chains and hold them against the newest signed checkpoints."""
    from adapters.crypto.signing_key import parse_public_key
    from api.audit import verify_all

    key = parse_public_key(public_key) if public_key else None
    services = _services()
    try:
        report = verify_all(services, key)
    finally:
        services.close()
    for chain in report["chains"]:
        covered = (
            f"; checkpoint at position {chain['checkpoint_position']}"
            f" ({chain['checkpoint_at']:%Y-%m-%d %H:%M:%S %Z})"
            if chain["checkpoint_at"]
            else "; no checkpoint yet"
        )
        if chain["ok"]:
            typer.echo(f"{chain['chain']}: OK ({chain['checked']} records{covered})")
        else:
            typer.echo(
                f"{chain['chain']}: BROKEN at position {chain['broken_at']}: {chain['reason']}"
            )
    raise typer.Exit(0 if report["ok"] else 1)


@audit_cli.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of each chain's head now (workers do every TELEMED_CHECKPOINT_SECONDS)."""
    services = _services()
    try:
        rounds = services.checkpoints.write_now()
    finally:
        services.close()
    for anchored in rounds:
        checkpoint = anchored.checkpoint
        if anchored.refused is not None:
            typer.echo(
                f"{anchored.chain}: REFUSED at position {anchored.refused.position}: "
                f"{anchored.refused.reason}"
            )
        elif checkpoint is None:
            typer.echo(f"{anchored.chain}: empty, nothing to sign")
        else:
            state = "signed" if anchored.written else "unchanged"
            typer.echo(
                f"{anchored.chain}: {state} at position {checkpoint.position} "
                f"({checkpoint.hash.hex()[:16]}...)"
            )
    raise typer.Exit(1 if any(a.refused for a in rounds) else 0)


@audit_cli.command("public-key")
def audit_public_key() -> None:
    """Print this deployment's checkpoint verification key (publish it; keep it with audits)."""
    from adapters.crypto.signing_key import load_or_create, public_key_text

    key, _ = load_or_create(Settings().signing_key_file)
    typer.echo(public_key_text(key.verify_key))


@keys_cli.command("rotate-master")
def rotate_master(
    retire_old: Annotated[
        bool, typer.Option(help="retire the old master key at once (no other process runs)")
    ] = False,
) -> None:
    """Add a master key (keyring file and the database's record) and re-wrap every data key
    under it, keeping the old wrapping until the old key is retired; events are not touched."""
    services = _services()
    try:
        kid, count = services.keys.rotate_master(retire_old=retire_old)
    finally:
        services.close()
    typer.echo(f"new master key {kid}; re-wrapped {count} data keys")
    if not retire_old:
        typer.echo(
            f"Next: copy {services.settings.keyring_path.resolve()} to every host, restart each "
            "telemed process there, then run `telemed keys retire-master`."
        )


@keys_cli.command("retire-master")
def retire_master() -> None:
    """Once every process runs with the keyring holding the active master key: wrap every data
    key by it alone and drop the older master keys from the keyring and the database's record."""
    services = _services()
    try:
        retired, count = services.keys.retire_old_masters()
    finally:
        services.close()
    names = ", ".join(sorted(retired)) or "no master key"
    typer.echo(f"retired {names}; re-wrapped {count} data keys")


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
        opened = OpenAccount(email, password, role, organisation)
        account_id = services.bus.handle(opened).aggregate_id
    finally:
        services.close()
    typer.echo(
        f"account {account_id} ({role.value}); two-factor set-up is required at sign-in"
        if role is not Role.PATIENT
        else f"account {account_id} (patient)"
    )


def main() -> None:
    sys.exit(cli())
