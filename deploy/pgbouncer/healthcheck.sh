#!/bin/bash
# Container health check: PgBouncer accepts TCP connections on its port. The image has no
# PostgreSQL client; bash's /dev/tcp is enough to tell a listening pooler from a dead one.
exec 3<>"/dev/tcp/127.0.0.1/${PGBOUNCER_LISTEN_PORT:-6432}"
