"""The `caravan` command: serve, migrate, demo, worker, purge, rotate-master-key, openapi."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from api.config import ConfigError, Settings, load_settings

_HANDLES: list[Any] = []  # embedded-database handles kept alive for the process


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    if settings.database_url is None:
        from db.embedded import start_embedded

        print(
            "DATABASE_URL is not set: starting the embedded PostgreSQL under .caravan/pgdata",
            file=sys.stderr,
        )
        url, handle = start_embedded()
        _HANDLES.append(handle)
        os.environ["DATABASE_URL"] = url  # inherited by server worker processes
        settings = load_settings()
    if settings.secret_key_generated and settings.mode == "development":
        print(
            "CARAVAN_SECRET_KEY is not set: using a development key kept in .caravan/secret_key",
            file=sys.stderr,
        )
    return settings


async def _migrate(settings: Settings) -> list[int]:
    from db.migrate import migrate, set_database_defaults
    from db.pool import connect, session_defaults

    assert settings.session_database_url
    # the direct connection when there is one: the migration lock is a session's
    conn = await connect(settings.session_database_url)
    try:
        applied = await migrate(conn)
        if settings.database_pooler == "pgbouncer":
            # PgBouncer drops the pool's start-up timeouts: the database carries them instead
            await set_database_defaults(conn, session_defaults(settings.statement_timeout_ms))
        return applied
    finally:
        await conn.close()


def cmd_migrate(_: argparse.Namespace) -> int:
    applied = asyncio.run(_migrate(_settings()))
    print(
        f"applied migrations: {', '.join(f'{v:04d}' for v in applied)}"
        if applied
        else "database is up to date"
    )
    return 0


def cmd_demo(_: argparse.Namespace) -> int:
    from demo.loader import load_demo

    settings = _settings()
    asyncio.run(_migrate(settings))
    print(asyncio.run(load_demo(settings)))
    return 0


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def serve_public_url(env: MutableMapping[str, str], host: str, port: int) -> str:
    """Absolute links (manage links, feed URLs) point where `caravan serve` listens unless
    CARAVAN_PUBLIC_URL says otherwise; set in `env`, so server worker processes inherit it."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (a comparison, not a binding)
        host = "127.0.0.1"  # listening everywhere: this machine is one address that answers
    elif ":" in host:
        host = f"[{host}]"
    return env.setdefault("CARAVAN_PUBLIC_URL", f"http://{host}:{port}")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    serve_public_url(os.environ, args.host, args.port)
    settings = _settings()
    if args.migrate:
        asyncio.run(_migrate(settings))
    if args.demo:
        from demo.loader import load_demo

        print(asyncio.run(load_demo(settings)))
    base = f"http://{args.host}:{args.port}"
    print(
        f"Caravan is serving on {base}\n"
        f"  docs:         {base}/docs\n"
        f"  openapi:      {base}/v1/openapi.json\n"
        f"  demo org:     {base}/v1/orgs/frontera-unida\n"
        f"  public list:  {base}/v1/events\n"
        f"  sample feed:  {base}/v1/orgs/frontera-unida/calendar.ics"
    )
    # No access log: it would record client addresses and secret paths (feed tokens, manage
    # links). uvicorn's error log stays; the app logs one JSON line per request with the route
    # template instead of the path (api/request_log.py).
    from api.request_log import logging_config

    # uvicorn raises the signal that stopped it again once it has drained; a drained stop is
    # a clean exit (0) for process managers, not a death by SIGTERM
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        loop="uvloop" if _has("uvloop") else "asyncio",
        http="httptools" if _has("httptools") else "h11",
        log_config=logging_config(),
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=settings.statement_timeout_ms // 1000 + 5,
        log_level="info",
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    from api.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_worker(_settings(), interval_s=args.interval, once=args.once))
    return 0


async def _privacy_report(
    settings: Settings, org: str | None, member: str | None, manage_link: str | None, form: str
) -> str:
    import msgspec

    from api.crypto import Keyring
    from api.privacy_text import render_text
    from api.services.privacy_drill import rsvp_report, run_drill
    from db.pool import connect

    assert settings.session_database_url
    conn = await connect(settings.session_database_url)
    try:
        async with conn.transaction():
            if manage_link is not None:
                report = await rsvp_report(conn, settings, manage_link.rsplit("/", 1)[-1])
            else:
                assert org is not None and member is not None
                keyring = Keyring(settings.secret_key)
                report = await run_drill(conn, keyring, settings, org, member)
    finally:
        await conn.close()
    if form == "text":
        return render_text(report)
    return msgspec.json.format(msgspec.json.encode(report), indent=2).decode() + "\n"


def cmd_privacy_report(args: argparse.Namespace) -> int:
    """Print the subpoena drill for one person (a member, anyone else the org holds data
    about, or one RSVP by its manage link): every field held, never values."""
    from api.errors import ProblemError

    if args.manage_link is None and (args.org is None or args.member is None):
        print("Give --org and --member, or --manage-link.", file=sys.stderr)
        return 2
    try:
        text = asyncio.run(
            _privacy_report(_settings(), args.org, args.member, args.manage_link, args.format)
        )
    except ProblemError as exc:
        print(exc.detail, file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


async def _purge(settings: Settings) -> list[dict[str, Any]]:
    from api.services.retention import Retention, run_retention
    from db.pool import connect

    assert settings.session_database_url
    conn = await connect(settings.session_database_url)
    try:
        return await run_retention(conn, retention=Retention.from_settings(settings))
    finally:
        await conn.close()


def cmd_purge(_: argparse.Namespace) -> int:
    """Run the retention purge once (as the worker does) and print its receipts."""
    from api.services.retention import describe, totals

    receipts = asyncio.run(_purge(_settings()))
    for receipt in receipts:
        print(describe(receipt))
    summary = ", ".join(f"{name} {count}" for name, count in totals(receipts).items())
    print(f"purged: {summary}" if receipts else "nothing was past its retention")
    return 0


async def _rotate(settings: Settings, old_secret: str) -> Any:
    from api.crypto import Keyring
    from api.services.key_rotation import rotate_master_key
    from db.pool import connect

    assert settings.session_database_url
    conn = await connect(settings.session_database_url)
    try:
        return await rotate_master_key(conn, Keyring(old_secret), Keyring(settings.secret_key))
    finally:
        await conn.close()


def cmd_rotate_master_key(args: argparse.Namespace) -> int:
    """Rewrap every data key from the old secret (read from --old-secret-env) to
    CARAVAN_SECRET_KEY, and recompute the keyed email lookups, in one transaction."""
    from api.services.key_rotation import RotationError

    old_secret = os.environ.get(args.old_secret_env, "")
    if len(old_secret) < 32:
        print(f"{args.old_secret_env} must hold the old CARAVAN_SECRET_KEY", file=sys.stderr)
        return 2
    settings = _settings()
    if settings.secret_key_generated:
        print("Set CARAVAN_SECRET_KEY to the new secret first", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_rotate(settings, old_secret))
    except RotationError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        f"master key {report.old_master_key_id} -> {report.new_master_key_id}: "
        f"{report.data_keys_rewrapped} data keys rewrapped "
        f"({report.data_keys_already_new} were already), "
        f"{report.email_lookups} email lookups recomputed, "
        f"{report.rate_limit_windows_dropped} rate-limit windows dropped"
    )
    if report.emails_unreadable:
        print(f"{report.emails_unreadable} account email(s) could not be read", file=sys.stderr)
    if report.recovery_code_accounts:
        print(
            f"{report.recovery_code_accounts} account(s) lost their recovery codes "
            "(stored only as keyed hashes): they must generate new ones",
            file=sys.stderr,
        )
    print(f"now restart the API and the worker with the new secret and unset {args.old_secret_env}")
    return 0


def cmd_retention_table(args: argparse.Namespace) -> int:
    """Print the README's retention table for these settings, or check or rewrite README."""
    from api.services.retention import retention_table, splice_readme

    os.environ.setdefault("CARAVAN_MODE", "test")  # no database or secret needed
    table = retention_table(load_settings())
    if not (args.check or args.write):
        sys.stdout.write(table)
        return 0
    path = Path(args.readme)
    current = path.read_text()
    wanted = splice_readme(current, table)
    if args.check:
        if current != wanted:
            print(f"{path}: the retention table differs; run `caravan retention-table --write`")
            return 1
        print(f"{path}: the retention table matches the settings")
        return 0
    path.write_text(wanted)
    print(f"wrote the retention table into {path}")
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from api.app import create_app
    from api.openapi import render_yaml

    os.environ.setdefault("CARAVAN_MODE", "test")
    text = render_yaml(create_app(load_settings()))
    path = Path(args.output)
    if args.check:
        current = path.read_text() if path.exists() else ""
        if current != text:
            print(
                f"{path} differs from the app; run `caravan openapi` and commit it", file=sys.stderr
            )
            return 1
        print(f"{path} matches the app")
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="caravan", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--migrate", action="store_true", help="apply migrations first")
    serve.add_argument("--demo", action="store_true", help="load demo data first (once)")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("demo", help="load demo organizations and events (once)").set_defaults(
        func=cmd_demo
    )
    worker = sub.add_parser("worker", help="run background jobs (housekeeping)")
    worker.add_argument("--interval", type=float, default=60.0, help="seconds between rounds")
    worker.add_argument("--once", action="store_true", help="run one round and exit")
    worker.set_defaults(func=cmd_worker)
    privacy = sub.add_parser("privacy", help="what Caravan holds about people")
    privacy_sub = privacy.add_subparsers(dest="privacy_command", required=True)
    report = privacy_sub.add_parser(
        "report",
        help="the subpoena drill: every field an org holds about one person, never the values",
    )
    report.add_argument("--org", help="the organization's slug")
    report.add_argument(
        "--member",
        help="the person's email or account id: a member, or anyone who RSVPed, applied or "
        "shared rides with the org",
    )
    report.add_argument(
        "--manage-link",
        help="instead of --org/--member: the manage link (or its token) of an RSVP made "
        "without an account, as its holder presents it",
    )
    report.add_argument(
        "--format", choices=("json", "text"), default="json", help="json, or one page of text"
    )
    report.set_defaults(func=cmd_privacy_report)
    sub.add_parser(
        "purge", help="erase what is past its retention now and print the receipts"
    ).set_defaults(func=cmd_purge)
    rotate = sub.add_parser(
        "rotate-master-key", help="rewrap every data key from the old secret to the new one"
    )
    rotate.add_argument(
        "--old-secret-env",
        default="CARAVAN_OLD_SECRET_KEY",
        help="environment variable holding the old CARAVAN_SECRET_KEY",
    )
    rotate.set_defaults(func=cmd_rotate_master_key)
    table = sub.add_parser(
        "retention-table", help="the README's retention table, generated from the settings"
    )
    table.add_argument("--check", action="store_true", help="exit 1 when README differs")
    table.add_argument("--write", action="store_true", help="rewrite README's table")
    table.add_argument("--readme", default="README.md")
    table.set_defaults(func=cmd_retention_table)
    openapi = sub.add_parser("openapi", help="write openapi.yaml from the app")
    openapi.add_argument("--check", action="store_true", help="exit 1 when the file differs")
    openapi.add_argument("--output", default="openapi.yaml")
    openapi.set_defaults(func=cmd_openapi)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
