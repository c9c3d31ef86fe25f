"""A throwaway copy of the configured database for a benchmark run, never the real one."""

import contextlib
import sys


@contextlib.contextmanager
def throwaway_database(prefix: str, **settings):
    """Set up Django, then create and migrate `test_<prefix>_<name>` (in-memory on SQLite)
    with DEBUG off and `settings` overridden; drop it on the way out."""
    import django

    django.setup()
    from django.db import connection, connections
    from django.test.utils import (
        override_settings,
        setup_test_environment,
        teardown_test_environment,
    )

    setup_test_environment(debug=False)
    overrides = override_settings(**settings)
    overrides.enable()
    if connection.vendor != "sqlite":
        # Not the test runner's test_<name>: a concurrent test run keeps its database.
        connection.settings_dict["TEST"]["NAME"] = (
            f"test_{prefix}_{connection.settings_dict['NAME']}"
        )
    print(
        f"creating a throwaway {connection.vendor} database and migrating it ...", file=sys.stderr
    )
    old_name = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, serialize=False, keepdb=False
    )
    try:
        yield connection
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
        overrides.disable()
        teardown_test_environment()
