import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None)
settings.load_profile("ci")


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory):
    """The suite compiles into a cache of its own (C modules and optimizer recipes), not the user's."""
    from eqtensor import config

    with config.change_flags(cache_dir=str(tmp_path_factory.mktemp("eqtensor-cache"))):
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
