"""For tests that start other processes (RQ workers) on the test's own database."""

from django.db import connection


def database_url() -> str:
    """DATABASE_URL for the test database, as a worker process must be given it."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
