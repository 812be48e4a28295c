"""``manage.py ensure_admin USERNAME --email E``: an idempotent admin account for playbooks.

Django's ``createsuperuser --noinput`` takes the password from an environment
variable, and Ansible puts task environment variables on the remote shell's
command line, where ``ps`` shows them. This command reads the password from
standard input instead, and reports what it did on one line (``created``,
``updated`` or ``unchanged``) so the playbook can report changes honestly.
``ensure_database`` does the same after its migration check, in one start.
"""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

MIN_PASSWORD_LENGTH = 12


def read_password() -> str:
    """The first line of standard input, refused when too short to be a real password."""
    password = sys.stdin.readline().rstrip("\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CommandError(
            f"the password on standard input must have at least {MIN_PASSWORD_LENGTH} characters"
        )
    return password


@transaction.atomic
def ensure_superuser(username: str, email: str, password: str) -> str:
    """Create or update the superuser; returns ``created``, ``updated`` or ``unchanged``."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username, defaults={"email": email})
    changed = created
    for field, value in (
        ("email", email),
        ("is_staff", True),
        ("is_superuser", True),
    ):
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed = True
    if not user.check_password(password):
        user.set_password(password)
        changed = True
    if changed:
        user.save()
    return "created" if created else "updated" if changed else "unchanged"


class Command(BaseCommand):
    help = "Create or update a superuser; the password is read from standard input."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        password = read_password()
        self.stdout.write(ensure_superuser(options["username"], options["email"], password))
