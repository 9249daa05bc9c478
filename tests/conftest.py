"""Shared test helpers: repository paths. Fixture data is generated in tmp_path, never committed."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    return REPO
