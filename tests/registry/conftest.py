import pytest

from receipts.keys_files import create_key, load_key_file
from simulators.devstack.sample_approvals import SAMPLE_KEY_ID


@pytest.fixture(scope="session")
def sample_key(sample_approvals):
    """The sample approver's private key that signed the demo approvals."""
    return load_key_file(sample_approvals[1].parent / "key" / f"{SAMPLE_KEY_ID}.pem")


@pytest.fixture(scope="session")
def stranger_key(tmp_path_factory):
    """A key no approver keys file lists."""
    from datetime import UTC, datetime

    return create_key(tmp_path_factory.mktemp("stranger"), "stranger", datetime(2020, 1, 1, tzinfo=UTC))
