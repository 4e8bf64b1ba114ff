import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hcl import Estate  # noqa: E402


@pytest.fixture(scope="session")
def production() -> Estate:
    return Estate("production")


@pytest.fixture(scope="session")
def staging() -> Estate:
    return Estate("staging")


@pytest.fixture(scope="session", params=["production", "staging"])
def estate(request) -> Estate:
    return Estate(request.param)
