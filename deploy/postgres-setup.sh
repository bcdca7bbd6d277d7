#!/usr/bin/env bash
# Create (or update) the catalog's database and its login role on a PostgreSQL server, then print
# the AURORAX_CATALOG URL for /etc/aurorax/aurorax.env. Idempotent: running it again only resets
# the password.
#
#   bash deploy/postgres-setup.sh ADMIN_URL [APP_ROLE] [APP_DB]
#     ADMIN_URL  a superuser connection, e.g. postgresql://postgres@db.example.org:5432/postgres
#                (or "" to use psql's defaults / PG* variables, e.g. run as the postgres user)
#     AURORAX_APP_PASSWORD  the role's password (default: a new random one)
#
# Server settings worth changing for a catalog of millions of records (postgresql.conf):
#   shared_buffers = 25% of RAM, effective_cache_size = 50-75% of RAM, max_connections >= the sum
#   of every process's pool_max (default 10 per process, + 2 per API search process), and
#   listen_addresses / pg_hba.conf entries (scram-sha-256) for the hosts running aurorax-core.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
admin_url=$1
role=${2:-aurorax_app}
db=${3:-aurorax}
password=${AURORAX_APP_PASSWORD:-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')}
here=$(cd "$(dirname "$0")" && pwd)
psql ${admin_url:+"$admin_url"} -X -q -v app_role="$role" -v app_password="$password" -v app_db="$db" \
    -f "$here/postgres-setup.sql" >/dev/null
# host and port as psql resolved them
target=$(psql ${admin_url:+"$admin_url"} -X -At -c "SELECT coalesce(inet_server_addr()::text, 'localhost') || ':' || current_setting('port')")
host=${target%:*}
host=${host%/32}
printf 'postgresql://%s:%s@%s:%s/%s\n' "$role" "$password" "$host" "${target##*:}" "$db"
