"""The database going away answers 503 with Retry-After, as the file store's outage does, and
the API recovers by itself when it is back. PostgreSQL only: it is the database that runs
as its own server (SQLite is a file of the process)."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from clinifile.runtime import Runtime
from tests.factories import Api, Tenant


def _allow_connections(runtime: Runtime, allowed: bool) -> None:
    url = make_url(runtime.settings.resolved_database_url())
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (url.database,),
            )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_database_that_refuses_connections_is_a_503_then_recovers(
    api: Api, tenant: Tenant
) -> None:
    paths = ("/v1/patients", f"/v1/patients/{tenant.patient_id}/attachment_presigned_post")
    for path in paths:
        assert api.client.get(path, auth=tenant.auth).status_code == 200

    _allow_connections(api.runtime, False)
    try:
        for path in paths:
            answer = api.client.get(path, auth=tenant.auth)
            assert answer.status_code == 503, answer.text
            assert answer.json() == {"message": "The database is unavailable; retry shortly"}
            assert answer.headers["retry-after"] == "2"
    finally:
        _allow_connections(api.runtime, True)

    for path in paths:
        assert api.client.get(path, auth=tenant.auth).status_code == 200
