"""Fixtures for the app role's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def app_vars(host) -> dict:
    return host.ansible.get_variables()
