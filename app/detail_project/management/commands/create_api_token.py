"""``manage.py create_api_token <username>``: issue a bearer token and print it once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...auth import issue_token


class Command(BaseCommand):
    help = "Create an API token for a user and print it. Only its hash is stored: save it now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="Label to tell tokens apart in the admin.")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: options["username"]})
        except user_model.DoesNotExist as exc:
            raise CommandError(f"No user named {options['username']!r}.") from exc
        _, raw = issue_token(user, name=options["name"])
        self.stdout.write(raw)
