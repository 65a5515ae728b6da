#!/bin/sh
# PostgreSQL primary or synchronous hot standby for the HA Compose lab (Debian's server), as the
# README's "PostgreSQL standby and failover" describes. The primary: initialised on first start in
# its volume like postgres.sh (role and database "meetpoint", password "meetpoint"), streaming
# replication, commits acknowledged only once the standby named "standby" has applied them. The
# standby: pg_basebackup from the primary, then a hot standby that waits for no standby of its own
# once promoted (select pg_promote()).
# Usage: postgres-ha.sh primary | postgres-ha.sh standby <primary host>
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
data=/var/lib/postgresql/data
mkdir -p "$data" && chown postgres:postgres "$data" && chmod 0700 "$data"
case "${1:-}" in
primary)
  if [ ! -f "$data/PG_VERSION" ]; then
    echo meetpoint >/tmp/pw
    runuser -u postgres -- "$bin/initdb" -D "$data" -U meetpoint --pwfile=/tmp/pw -E UTF8 \
      --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm /tmp/pw
    printf '%s\n' "host all all 198.18.0.0/15 scram-sha-256" \
      "host replication meetpoint 198.18.0.0/15 scram-sha-256" >>"$data/pg_hba.conf"
    runuser -u postgres -- "$bin/postgres" --single -D "$data" postgres <<SQL >/dev/null
CREATE DATABASE meetpoint OWNER meetpoint;
SQL
    # After the database is made: from now on a commit waits for the standby.
    printf '%s\n' "wal_level = replica" "max_wal_senders = 4" "hot_standby = on" \
      "synchronous_standby_names = 'standby'" "synchronous_commit = remote_apply" \
      >>"$data/postgresql.conf"
  fi
  ;;
standby)
  primary=${2:?usage: postgres-ha.sh standby <primary host>}
  if [ ! -f "$data/PG_VERSION" ]; then
    until PGPASSWORD=meetpoint runuser -u postgres -- "$bin/pg_basebackup" -h "$primary" \
      -U meetpoint -D "$data" -X stream -R 2>/tmp/basebackup.err; do
      sed 's/^/pg_basebackup: /' /tmp/basebackup.err >&2
      rm -rf "${data:?}"/*
      sleep 1
    done
    # postgresql.auto.conf wins over the copied postgresql.conf.
    printf '%s\n' \
      "primary_conninfo = 'host=$primary user=meetpoint password=meetpoint application_name=standby'" \
      "synchronous_standby_names = ''" >>"$data/postgresql.auto.conf"
  fi
  ;;
*)
  echo "usage: postgres-ha.sh primary | postgres-ha.sh standby <primary host>" >&2
  exit 2
  ;;
esac
exec runuser -u postgres -- "$bin/postgres" -D "$data" -c listen_addresses='*' -k /tmp
