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


@pytest.fixture
def history_page_queries():
    """What a page of history costs, whatever it holds: the user (authentication), the membership
    with its room, and on PostgreSQL one statement for the messages with authors, replies, cards,
    attachments and reactions; the ORM (SQLite) reads attachments and reactions in two more."""
    from django.db import connection

    return 3 if connection.vendor == "postgresql" else 5
