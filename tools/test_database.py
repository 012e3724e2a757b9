"""Creates the PostgreSQL database the tune tests use; fails clearly.

`make test` (and so `.ci/run`) runs this before pytest:

    python -m tools.test_database

It connects to `$KERAS_OPTIM_ZOO_TEST_POSTGRES_ADMIN` (default
`postgresql://postgres@127.0.0.1:5432/postgres`: the CI machine's server,
trust auth) and creates the database of `$KERAS_OPTIM_ZOO_TEST_POSTGRES`
(default `postgresql://postgres@127.0.0.1:5432/keras_optim_zoo_test`) if
it does not exist. Exit status 1, with what was tried, if the server
cannot be reached.
"""

import os
import sys

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TEST = "postgresql://postgres@127.0.0.1:5432/keras_optim_zoo_test"


def database_url():
    return os.environ.get("KERAS_OPTIM_ZOO_TEST_POSTGRES", TEST)


def main():
    import psycopg

    admin = os.environ.get("KERAS_OPTIM_ZOO_TEST_POSTGRES_ADMIN", ADMIN)
    name = database_url().rsplit("/", 1)[1]
    try:
        conn = psycopg.connect(admin, connect_timeout=10, autocommit=True)
    except psycopg.OperationalError as error:
        first = str(error).strip().splitlines()[0]
        print(
            f"The tune tests need a PostgreSQL server: cannot connect to "
            f"{admin} ({first}). Start one (CI provides it on "
            "127.0.0.1:5432 with trust auth), or point "
            "KERAS_OPTIM_ZOO_TEST_POSTGRES_ADMIN at a server where this user "
            "may create databases.",
            file=sys.stderr,
        )
        return 1
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
            print(f"created PostgreSQL database {name}")
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
