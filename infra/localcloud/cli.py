"""`cashline`: run the local cloud, fire schedules at any moment, manage tenants and API keys.

Commands other than `run` talk to the cloud named by the CASHLINE_* environment; when it is not
set they use the local cloud `make run` started (its settings are in .local/cloud.env).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from chalice.app import Chalice

from localcloud.dynamodb_local import LocalCloudError
from localcloud.paths import LOCAL_STATE


def _use_local_cloud_if_unset() -> None:
    if "CASHLINE_TABLE_NAME" in os.environ:
        return
    env_file = LOCAL_STATE / "cloud.env"
    if not env_file.exists():
        raise LocalCloudError(
            "no Cashline environment: start the local cloud with `make run` (it writes .local/cloud.env), "
            "or set the CASHLINE_* variables of a deployed stack"
        )
    for line in env_file.read_text().splitlines():
        name, _, value = line.partition("=")
        if name:
            os.environ[name] = value


def _wired_app() -> Chalice:
    from localcloud.handlers import load_app, wire_app_to_environment

    _use_local_cloud_if_unset()
    app = load_app()
    wire_app_to_environment()
    return app


def _cmd_run(args: argparse.Namespace) -> None:
    from localcloud.runner import run

    run(args.port)


class UsageError(Exception):
    """A command line that cannot mean anything; printed with the usage hint, exit status 2."""


def _instant(text: str) -> datetime:
    """`--at`: an ISO 8601 instant with its offset; anything else is a usage error, not a traceback."""
    from cashline.clock import parse_utc

    try:
        return parse_utc(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 instant with a time zone, e.g. 2027-01-05T09:00:00Z"
        ) from None


def _cmd_tick(args: argparse.Namespace) -> None:
    from localcloud.handlers import dump, fire_schedule, fire_schedules, schedules

    app = _wired_app()
    names = [schedule.name for schedule in schedules(app)]
    if args.schedule and args.schedule not in names:
        raise UsageError(f"no schedule {args.schedule!r}; the schedules are {', '.join(names)}")
    at: datetime = args.at or datetime.now(UTC)
    results = (
        {args.schedule: fire_schedule(app, args.schedule, at)} if args.schedule else fire_schedules(app, at)
    )
    print(dump({"at": at.isoformat(), "results": results}))


def _cmd_tenant_create(args: argparse.Namespace) -> None:
    from cashline.services.access import TenantSettings, create_tenant

    _wired_app()
    tenant = create_tenant(
        TenantSettings(
            name=args.name, country=args.country, base_currency=args.currency, timezone=args.timezone
        ),
        now=datetime.now(UTC),
    )
    print(tenant.tenant_id)


def _cmd_key_create(args: argparse.Namespace) -> None:
    from cashline.domain.access import Role
    from cashline.services.access import create_api_key

    _wired_app()
    created = create_api_key(
        args.tenant,
        name=args.name,
        role=Role(args.role),
        now=datetime.now(UTC),
        expires_in_days=args.expires_in_days,
    )
    print(f"key id: {created.key.key_id}  role: {created.key.role.value}", file=sys.stderr)
    print("store this key now; it is shown only once:", file=sys.stderr)
    print(created.secret)


def _cmd_key_revoke(args: argparse.Namespace) -> None:
    from cashline.services.access import revoke_api_key

    _wired_app()
    key = revoke_api_key(args.tenant, args.key_id, now=datetime.now(UTC))
    print(f"{key.key_id} {key.status.value}")


def _cmd_key_list(args: argparse.Namespace) -> None:
    from cashline.services.access import get_tenant, list_api_keys

    _wired_app()
    get_tenant(args.tenant)  # an unknown tenant is an error (not_found), not an empty list
    cursor: str | None = None
    while True:
        page = list_api_keys(args.tenant, limit=100, starting_after=cursor)
        for key in page.items:
            print(f"{key.key_id}  {key.role.value:9}  {key.status.value:8}  {key.name}")
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _cmd_migrate_due_keys(args: argparse.Namespace) -> None:
    from cashline.dal.due import rekey_legacy_due_items

    _wired_app()
    print(f"due items moved to the current key layout: {rekey_legacy_due_items()}")


def _cmd_backfill_bank_lookups(args: argparse.Namespace) -> None:
    from cashline.dal.bank_backfill import all_tenant_ids
    from cashline.services.access import get_tenant
    from cashline.services.bank.backfill import TenantBackfill, backfill_bank_lookups

    _wired_app()
    if (args.tenant is not None) == bool(args.all_tenants):
        raise UsageError("name one tenant, or pass --all-tenants (not both)")
    if args.tenant is not None:
        get_tenant(args.tenant)  # an unknown tenant is an error (not_found), not "nothing to do"
    tenants = [args.tenant] if args.tenant is not None else all_tenant_ids()

    def said(result: TenantBackfill) -> None:
        counts = "  ".join(
            f"{name}: {c.needed} needed, {c.missing} missing, {c.written} written"
            for name, c in result.lookups.items()
        )
        print(f"{result.tenant_id}  {counts}")

    done = backfill_bank_lookups(tenants, dry_run=args.dry_run, on_tenant=said)
    missing = sum(c.missing for r in done for c in r.lookups.values())
    written = sum(c.written for r in done for c in r.lookups.values())
    print(
        f"tenants: {len(done)}  missing: {missing}  written: {written}"
        + ("  (dry run)" if args.dry_run else "")
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cashline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="local cloud + API + schedules + demo data, until Ctrl-C")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    run.set_defaults(handler=_cmd_run)

    tick = commands.add_parser("tick", help="run every scheduled handler once, as if at --at")
    tick.add_argument(
        "--at",
        type=_instant,
        help="ISO 8601 instant with a time zone, e.g. 2027-01-05T09:00:00Z (default: now). What a tick in "
        "the future does stays done (overdue, reminders, debits) until the local cloud restarts",
    )
    tick.add_argument("--schedule", help="only this schedule")
    tick.set_defaults(handler=_cmd_tick)

    tenant = commands.add_parser("tenant", help="manage tenants").add_subparsers(dest="action", required=True)
    create = tenant.add_parser("create", help="create a tenant; prints its id")
    create.add_argument("name")
    create.add_argument("--country", default="DE", help="ISO 3166-1 alpha-2 (bank calendar)")
    create.add_argument("--currency", default="EUR", help="base currency, ISO 4217")
    create.add_argument("--timezone", default="Europe/Berlin")
    create.set_defaults(handler=_cmd_tenant_create)

    key = commands.add_parser("key", help="manage API keys").add_subparsers(dest="action", required=True)
    key_create = key.add_parser("create", help="create a key; prints it once")
    key_create.add_argument("tenant")
    key_create.add_argument("--role", required=True, choices=["admin", "finance", "read_only"])
    key_create.add_argument("--name", default="cli")
    key_create.add_argument("--expires-in-days", type=int, default=None)
    key_create.set_defaults(handler=_cmd_key_create)
    key_revoke = key.add_parser("revoke", help="revoke a key at once")
    key_revoke.add_argument("tenant")
    key_revoke.add_argument("key_id")
    key_revoke.set_defaults(handler=_cmd_key_revoke)
    key_list = key.add_parser("list", help="list a tenant's keys")
    key_list.add_argument("tenant")
    key_list.set_defaults(handler=_cmd_key_list)

    migrate = commands.add_parser("migrate", help="one-off data migrations of a deployed stack")
    steps = migrate.add_subparsers(dest="action", required=True)
    due_keys = steps.add_parser(
        "due-keys",
        help="once, after deploying the sharded due index (issue 11): move items keyed by day to their "
        "job's shards so the sweeps find them; safe to run again",
    )
    due_keys.set_defaults(handler=_cmd_migrate_due_keys)

    backfill = commands.add_parser(
        "backfill-bank-lookups",
        help="once, after deploying bank reconciliation (issue 13): give counterparties and payouts, "
        "refunds, chargebacks and fees stored before it the IBAN and amount lookups matching reads; "
        "an existing lookup is left, so it is safe to run again, and running again resumes",
    )
    backfill.add_argument("tenant", nargs="?", help="this tenant only")
    backfill.add_argument(
        "--all-tenants",
        action="store_true",
        help="every tenant, found by a Scan of the table (tenants have no list index): acceptable in "
        "this operator command only, never on a request path",
    )
    backfill.add_argument("--dry-run", action="store_true", help="count the missing lookups, write none")
    backfill.set_defaults(handler=_cmd_backfill_bank_lookups)
    return parser


def _logs_to_stderr() -> None:
    """stdout carries the command's answer (an id, a key); the JSON logs go to stderr."""
    import logging

    from cashline.observability import logger

    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from cashline.errors import CashlineError

    _logs_to_stderr()
    try:
        args.handler(args)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"cashline: {exc}", file=sys.stderr)
        return 2
    except LocalCloudError as exc:
        print(f"cashline: {exc}", file=sys.stderr)
        return 2
    except CashlineError as exc:
        print(f"cashline: {exc.error_type}: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
