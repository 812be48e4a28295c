"""``manage.py ensure_database [--admin USERNAME --email E]``: the no-op path in one start.

Each Django start costs about a second, so on a converged host the app role
starts Django once for its database step, with this command instead of
``migrate --check`` followed by ``ensure_admin``. It looks for unapplied
migrations the way ``migrate --check`` does and, when there are none, ensures
the admin account like ``ensure_admin`` (password on standard input, never on
the command line or in the environment). It prints one line, for
``changed_when``:

``pending``
    Migrations are unapplied. Nothing was changed and the admin account was
    not looked at (its table may not exist yet): the playbook runs
    ``migrate`` (output visible), then ``ensure_admin``.
``created``, ``updated``, ``unchanged``
    No migration is unapplied; what happened to the admin account
    (``unchanged`` also when ``--admin`` is not given).

It never applies migrations itself, so without ``--admin`` it only reads the
database: that is how the playbook calls it in check mode.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from detail_project.management.commands.ensure_admin import ensure_superuser, read_password


def migrations_pending(database: str = DEFAULT_DB_ALIAS) -> bool:
    """True when ``migrate`` has work to do (or would refuse: conflicting leaf migrations).

    The same plan ``migrate --check`` computes. Conflicts count as pending so
    that the playbook runs ``migrate``, which names them.
    """
    connection = connections[database]
    connection.prepare_database()
    executor = MigrationExecutor(connection)
    executor.loader.check_consistent_history(connection)
    if executor.loader.detect_conflicts():
        return True
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


class Command(BaseCommand):
    help = (
        "Print 'pending' when migrations are unapplied; otherwise ensure the --admin superuser "
        "(password on standard input) and print created, updated or unchanged."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--admin", default="", metavar="USERNAME", help="Superuser to create or update."
        )
        parser.add_argument("--email", default="", help="Email of the --admin superuser.")

    def handle(self, *args: Any, **options: Any) -> None:
        # Read standard input first: a short password fails the same way
        # whether or not migrations are pending.
        password = read_password() if options["admin"] else ""
        if migrations_pending():
            result = "pending"
        elif options["admin"]:
            result = ensure_superuser(options["admin"], options["email"], password)
        else:
            result = "unchanged"
        self.stdout.write(result)
