#!/bin/sh
# Creates or upgrades Temporal's two PostgreSQL databases (the default store and visibility) with
# Temporal's own schema tool, temporal-sql-tool, and the schema files shipped with the server
# version. Safe to run again: an existing database is kept and only missing versions are applied.
# docker-compose.yml runs it (temporal-schema) before the server starts; the cluster drills run it
# the same way against their throwaway PostgreSQL.
#
# Env: POSTGRES_SEEDS (host), DB_PORT (default 5432), POSTGRES_USER, POSTGRES_PWD,
#      DBNAME (default temporal), VISIBILITY_DBNAME (default temporal_visibility),
#      TEMPORAL_SCHEMA_DIR (default /etc/temporal/schema/postgresql/v12, as in temporalio/admin-tools),
#      TEMPORAL_SQL_TOOL (default temporal-sql-tool on PATH).
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS must name Temporal's PostgreSQL host}"
: "${POSTGRES_USER:?POSTGRES_USER must be set}"
SCHEMA_DIR="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"
TOOL="${TEMPORAL_SQL_TOOL:-temporal-sql-tool}"

sql() {
  SQL_PASSWORD="${POSTGRES_PWD:-}" "$TOOL" --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" \
    -u "$POSTGRES_USER" "$@"
}

for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  db="${pair%%:*}"; schema="${pair#*:}"
  echo "[temporal-schema] ${db}: database"
  # Fails when the database exists already, which is the normal case on every start but the first.
  sql --db "$db" create-database 2>/dev/null || echo "[temporal-schema] ${db} exists"
  # Version 0.0 only creates the versioning table (a no-op when it exists); update-schema then applies
  # every versioned step not yet applied, in order.
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "${SCHEMA_DIR}/${schema}/versioned"
  echo "[temporal-schema] ${db}: schema up to date"
done
