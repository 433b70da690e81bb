from bench import wsclient


def pytest_asyncio_loop_factories(config, item):
    """The load generator's tests run on the loop it runs on (uvloop, bench/wsclient.py)."""
    return {"uvloop": wsclient.new_event_loop}
