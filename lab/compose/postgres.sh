#!/bin/sh
# PostgreSQL for the Compose lab (Debian's server): initialised on first start in its volume, the
# platform's role and database "meetpoint" (password "meetpoint"), reachable on the lab networks.
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
data=/var/lib/postgresql/data
mkdir -p "$data" && chown postgres:postgres "$data" && chmod 0700 "$data"
if [ ! -f "$data/PG_VERSION" ]; then
  echo meetpoint >/tmp/pw
  runuser -u postgres -- "$bin/initdb" -D "$data" -U meetpoint --pwfile=/tmp/pw -E UTF8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm /tmp/pw
  echo "host all all 198.18.0.0/15 scram-sha-256" >>"$data/pg_hba.conf"
  runuser -u postgres -- "$bin/postgres" --single -D "$data" postgres <<SQL >/dev/null
CREATE DATABASE meetpoint OWNER meetpoint;
SQL
fi
exec runuser -u postgres -- "$bin/postgres" -D "$data" -c listen_addresses='*' -k /tmp
