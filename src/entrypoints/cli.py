"""The ``promptcore`` command line (SPEC §4)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import sys
import threading
from typing import Sequence

from .config import ConfigError, load_dotenv_file, load_settings


def _container():
    from .container import build_container
    from .observability import configure_logging

    load_dotenv_file()
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    return build_container(settings)


def _read_password(prompt: str = "Password: ") -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Repeat: ") != first:
            raise SystemExit("promptcore: the passwords do not match")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    return serve(_container(), args.host, args.port, args.workers, args.threads)


def cmd_worker(args: argparse.Namespace) -> int:
    from .worker import run_worker

    container = _container()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_worker(container, stop, args.poll)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from adapters.migrations import current_revision, head_revision, upgrade

    container = _container()
    engine = container.engine()
    if args.action == "upgrade":
        styles = upgrade(engine)  # also stores the code's style catalogue (adapters.sql.styles_sync)
        print(f"database at {current_revision(engine)}")
        if styles is not None:
            print(styles)
    else:
        current = current_revision(engine)
        head = head_revision()
        print(f"{current or '(empty)'}{' (head)' if current == head else f' (head is {head})'}")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    container = _container()
    accounts = container.accounts()
    if args.action == "create-admin":
        user = accounts.create_admin(args.email, _read_password())
        print(f"admin {user.email} ready (id {user.id})")
    else:
        user = accounts.set_daily_limit(args.email, args.limit)
        limit = container.quota().limit_of(user)
        print(f"{user.email}: daily limit {limit}" + (" (the default)" if user.daily_limit is None else ""))
    return 0


def cmd_plans(args: argparse.Namespace) -> int:
    billing = _container().billing()
    if args.action == "list":
        for plan in billing.plans(include_hidden=True):
            shown = "public" if plan.is_public else "hidden"
            kind = ", team" if plan.is_team else ""
            print(f"{plan.slug:<10} {plan.title_en:<12} {plan.daily_limit:>6} a day  "
                  f"{plan.price.to_decimal_string():>10} {plan.price.currency} / {plan.period_days} days  "
                  f"{shown}{kind}")
    elif args.action == "set":
        from promptcore.domain.billing import Money

        price = Money.parse(args.price, field_name="price") if args.price is not None else None
        plan = billing.set_plan(args.slug, daily_limit=args.daily_limit, price=price, is_public=args.public)
        print(f"{plan.slug}: {plan.daily_limit} a day, {plan.price.to_decimal_string()} {plan.price.currency}, "
              f"{'public' if plan.is_public else 'hidden'}")
    else:
        subscription = billing.grant(args.user, args.slug, args.days, team_id=args.team)
        who = f"team {args.team}" if args.team is not None else args.user
        print(f"{who}: {subscription.plan_slug} until {subscription.period_end:%Y-%m-%d %H:%M} UTC (granted)")
    return 0


def _limit_override(raw: str) -> int | None:
    """``set-limit``'s value: a whole number, or ``default`` to clear the override."""
    if raw.strip().lower() == "default":
        return None
    try:
        return int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("a whole number, or 'default'") from None


def _actor_for(container, email: str):
    """The actor of the account with this address, for acting on a user's behalf."""
    from promptcore.domain.access import Actor
    from promptcore.domain.errors import NotFound
    from promptcore.domain.users import normalize_email

    with container.uow() as uow:
        user = uow.users.get_by_email(normalize_email(email))
    if user is None:
        raise NotFound("No account has that e-mail address.")
    return Actor.of(user)


def cmd_improve(args: argparse.Namespace) -> int:
    """Without --user: the code's styles, no account and no quota. With --user EMAIL: as that
    user, through the Prompts use case (their quota, their history, their custom:ID styles)."""
    import promptcore

    if args.user is None and args.style.startswith("custom:"):
        print("promptcore: a custom style belongs to a user; add --user EMAIL to improve as its owner",
              file=sys.stderr)
        return 2
    container = _container()
    settings = container.settings()
    model = args.model
    if model is not None and model not in settings.model_choices:
        print("promptcore: unknown model; choose one of: " + ", ".join(settings.model_choices), file=sys.stderr)
        return 2
    if args.user is not None:
        generated = container.prompts().improve(_actor_for(container, args.user), args.text, args.style, model)
        record = generated.record
        text, used_model, usage = record.generated_prompt or "", record.model, record.usage
        cost = (usage or {}).get("cost")
        extra = {"id": record.id, "style": record.style,
                 "quota": {"limit": generated.quota.limit, "used": generated.quota.used,
                           "remaining": generated.quota.remaining}}
    else:
        result = promptcore.improve(args.text, args.style, improver=container.improver(), model=model,
                                    max_chars=settings.max_prompt_chars)
        text, used_model, usage, cost, extra = result.text, result.model, result.usage, result.cost, {}
    if args.json:
        print(json.dumps({"prompt": text, "model": used_model, "usage": usage, "cost": cost, **extra},
                         ensure_ascii=False, indent=2))
    else:
        print(text)
    return 0


def cmd_styles(args: argparse.Namespace) -> int:
    from promptcore import STYLES

    for style in STYLES:
        print(f"{style.slug:<12} {style.title_in(args.lang)} — {style.description_in(args.lang)}")
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """The MCP server (SPEC §15.2) over stdio, acting for the key in PROMPTCORE_API_KEY."""
    from .mcp.run import run_stdio

    return run_stdio(_container())


def cmd_mcp_http(args: argparse.Namespace) -> int:
    """The MCP server over streamable HTTP at /mcp, a key in each request's Authorization header."""
    from .mcp.run import run_http

    return run_http(_container(), args.host, args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promptcore", description="Turn rough prompts into better ones.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve the web UI and the API")
    p.add_argument("--host", default=os.environ.get("PROMPTCORE_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("PROMPTCORE_PORT", "8000")))
    # Measured (make bench, T2): a keep-alive connection stays on the worker that accepted it
    # and accepts are uneven, so each worker needs about as many threads as open connections.
    p.add_argument("--workers", type=int, default=int(os.environ.get("PROMPTCORE_WORKERS", "3")))
    p.add_argument("--threads", type=int, default=int(os.environ.get("PROMPTCORE_THREADS", "200")))
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="deliver queued e-mail until stopped")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between idle polls")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("db", help="database migrations (upgrade also stores the style catalogue)")
    p.add_argument("action", choices=["upgrade", "current"])
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("users", help="manage accounts")
    usub = p.add_subparsers(dest="action", required=True)
    a = usub.add_parser("create-admin", help="create or promote an administrator (password from stdin)")
    a.add_argument("email")
    a = usub.add_parser("set-limit", help="set a user's daily limit, or 'default' to follow the default again")
    a.add_argument("email")
    a.add_argument("limit", type=_limit_override, metavar="N|default")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("plans", help="plans and granted subscriptions")
    psub = p.add_subparsers(dest="action", required=True)
    psub.add_parser("list", help="every plan, hidden ones too")
    a = psub.add_parser("set", help="change a plan's daily limit, price or visibility")
    a.add_argument("slug")
    a.add_argument("--daily-limit", type=int, default=None, metavar="N")
    a.add_argument("--price", default=None, metavar="490.00")
    a.add_argument("--public", dest="public", action="store_true", default=None)
    a.add_argument("--hidden", dest="public", action="store_false")
    a = psub.add_parser("grant", help="a subscription without a payment, marked as granted")
    who = a.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", metavar="EMAIL")
    who.add_argument("--team", type=int, metavar="ID")
    a.add_argument("slug")
    a.add_argument("--days", type=int, default=None, metavar="N")
    p.set_defaults(func=cmd_plans)

    p = sub.add_parser("improve", help="improve one prompt with the configured improver")
    p.add_argument("text")
    p.add_argument("--style", default="general", help="a style's slug, or custom:ID (needs --user)")
    p.add_argument("--model", default=None)
    p.add_argument("--user", default=None, metavar="EMAIL",
                   help="improve as this user: their custom styles, their quota and history")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_improve)

    p = sub.add_parser("styles", help="list the styles")
    p.add_argument("--lang", default="en", choices=["en", "ru"])
    p.set_defaults(func=cmd_styles)

    p = sub.add_parser("mcp", help="the MCP server over stdio, for the key in PROMPTCORE_API_KEY")
    p.set_defaults(func=cmd_mcp)
    p = sub.add_parser("mcp-http", help="the MCP server over streamable HTTP at /mcp (a key per request)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.set_defaults(func=cmd_mcp_http)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from promptcore.domain.errors import PromptcoreError

    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"promptcore: configuration error: {exc}", file=sys.stderr)
        return 2
    except PromptcoreError as exc:
        print(f"promptcore: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
