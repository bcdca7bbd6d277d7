-- The catalog database of a deployment: one login role that owns one database. The aurorax
-- tables (schema "aurorax": the catalog, the shared search requests) are created and upgraded by
-- aurorax-core itself on its first writable open. Run as a superuser, e.g. through
-- deploy/postgres-setup.sh, which passes the values below as psql variables (never spliced as text):
--   psql "$ADMIN_URL" -v app_role=aurorax_app -v app_password=... -v app_db=aurorax -f postgres-setup.sql
\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'app_role', :'app_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'app_role', :'app_password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'app_db', :'app_role', 'UTF8')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'app_db') \gexec
SELECT format('GRANT ALL ON DATABASE %I TO %I', :'app_db', :'app_role') \gexec
