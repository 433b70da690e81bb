import pytest

from tests.chat.web import Site


@pytest.fixture
def site(settings):
    """A local web server (tests.chat.web) that the link-preview fetcher may reach: it is allow-listed."""
    server = Site()
    settings.LINK_PREVIEW_ALLOWED_HOSTS = [server.host]
    yield server
    server.stop()


@pytest.fixture
def unlisted_site():
    """A second local web server, NOT allow-listed: the fetcher must never reach it."""
    server = Site()
    yield server
    server.stop()
