import pytest

from gateway.platform.db import create_pool


@pytest.fixture(scope="session")
async def pool(database_url):
    pool = await create_pool(database_url, 4)
    yield pool
    await pool.close()


@pytest.fixture
async def rolled_back(db):
    transaction = db.transaction()
    await transaction.start()
    yield db
    await transaction.rollback()
