"""`phi-admin`: give or take the platform administrator flag.

    phi-admin grant alice@example.com
    phi-admin revoke alice@example.com
    phi-admin list

Administrators can also be named without a database change by PHI_ADMIN_EMAILS.
"""

from __future__ import annotations

import argparse
import sys
import warnings

warnings.filterwarnings("ignore", module="platformdirs")


def _set_flag(email: str, value: bool) -> int:
    import psycopg

    from phi_core_api.settings import CoreApiSettings

    settings = CoreApiSettings()
    with psycopg.connect(settings.libpq_database_url, autocommit=True) as conn:
        row = conn.execute(
            "UPDATE users SET is_platform_admin = %s WHERE lower(email) = lower(%s)"
            " RETURNING email",
            (value, email.strip()),
        ).fetchone()
    if row is None:
        print(f"no account with email {email!r}: sign up first", file=sys.stderr)
        return 1
    print(f"{row[0]} is {'now' if value else 'no longer'} a platform administrator")
    return 0


def _list() -> int:
    import psycopg

    from phi_core_api.settings import CoreApiSettings

    settings = CoreApiSettings()
    with psycopg.connect(settings.libpq_database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT email FROM users WHERE is_platform_admin ORDER BY lower(email)"
        ).fetchall()
    for (email,) in rows:
        print(email)
    extra = [e.strip() for e in settings.admin_emails.split(",") if e.strip()]
    if extra:
        print(f"(and by PHI_ADMIN_EMAILS: {', '.join(extra)})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="phi-admin", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("grant", "revoke"):
        sub = commands.add_parser(name, help=f"{name} the administrator flag")
        sub.add_argument("email")
    commands.add_parser("list", help="list platform administrators")
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list()
    return _set_flag(args.email, args.command == "grant")


if __name__ == "__main__":
    sys.exit(main())
