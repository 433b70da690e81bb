import pytest
from channels.db import database_sync_to_async

from tests.faults.cast import make_cast

PEOPLE, ROOMS, MESSAGES = 4, 2, 200


@pytest.fixture
async def cast(transactional_db):
    """Four signed-in people, all in the same two rooms, in the test database."""
    return await database_sync_to_async(make_cast)(people=PEOPLE, rooms=ROOMS)
