#!/bin/sh
# /usr/bin/hafen: the installed package's commands find the install without flags.
#
# - The package's configuration is the default (it names data_dir and the master key), so
#   `sudo hafen doctor`, `sudo hafen user add …` and the service reach the same database and key.
# - Run as root, every command runs as the service user `hafen` (the service's own files stay
#   the service's: a database, WAL or backup created by root would lock the service out), except
#   `hafen key generate`, which writes a new key where root tells it and touches no data.
# The program itself is /usr/lib/hafen/hafen; the unit starts it directly.
set -e
: "${HAFEN_CONFIG:=/etc/hafen/hafen.toml}"
export HAFEN_CONFIG
case "${1:-} ${2:-}" in
    "key generate") ;;
    *)
        if [ "$(id -u)" = 0 ] && getent passwd hafen >/dev/null; then
            exec setpriv --reuid=hafen --regid=hafen --init-groups --inh-caps=-all \
                -- /usr/lib/hafen/hafen "$@"
        fi
        ;;
esac
exec /usr/lib/hafen/hafen "$@"
