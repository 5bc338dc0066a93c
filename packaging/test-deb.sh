#!/usr/bin/env bash
# Builds the .deb and proves it: contents and control fields, lintian, the unit's exposure
# score, the README's links, then installs it on this machine (as root), checks what postinst
# created, runs the packaged server as the `hafen` user the way the unit would (there is no
# systemd PID 1 here: the unit's environment, and the master key where LoadCredential= would
# put it), and runs the commands docs/operations.md gives the admin, verbatim: doctor, user add,
# token create, backup into /var/backups/hafen, restore, purge (keeping the data, then a new
# install that continues with it), and a purge that deletes. Run by .ci/run; needs root.
#
# It refuses to run where Hafen is installed for real: it purges what it installed. Only an
# install it made itself (marked /etc/hafen/.test-deb) is replaced without asking;
# `HAFEN_TEST_DEB_REPLACE=yes` replaces any (and deletes its data).
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
step() { echo "test-deb: $*"; }
[ "$(id -u)" = 0 ] || fail "run as root: the test installs and purges the package"
marker=/etc/hafen/.test-deb
if { dpkg -s hafen >/dev/null 2>&1 || [ -e /var/lib/hafen ] || [ -e /etc/hafen ]; } \
   && [ ! -e "$marker" ] && [ "${HAFEN_TEST_DEB_REPLACE:-}" != yes ]; then
  fail "Hafen is installed here (/etc/hafen, /var/lib/hafen): this test would purge it and its data.
  Run it on a machine without Hafen, or set HAFEN_TEST_DEB_REPLACE=yes to replace this install."
fi

command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked --quiet
need=()
command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# CI packages the debug build it already has (HAFEN_DEB_PROFILE=dev): the packaging is what is
# under test, and a release build would double CI's time. `bash packaging/test-deb.sh` alone
# packages the `dist` profile's build (fat LTO), as shipped.
profile=${HAFEN_DEB_PROFILE:-dist}
step "building the package ($profile profile)"
deb=$(cargo deb --locked --profile "$profile" 2>/dev/null | tail -n 1)
[ -f "$deb" ] || fail "cargo deb produced no package"
step "$deb: $(du -h "$deb" | cut -f1)"

step "contents and control fields"
contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/hafen ./usr/lib/hafen/hafen ./etc/hafen/hafen.toml ./usr/lib/sysusers.d/hafen.conf \
            ./usr/lib/tmpfiles.d/hafen.conf ./usr/share/doc/hafen/README.md \
            ./usr/share/doc/hafen/docs/operations.md ./usr/share/doc/hafen/docs/dpo-guide.md \
            ./usr/share/doc/hafen/docs/ui/dashboard.png ./usr/share/doc/hafen/SECURITY.md hafen.service; do
  grep -q -- "$path" <<<"$contents" || fail "$path is not in the package"
done
grep -q -- '-rw-r----- .*./etc/hafen/hafen.toml' <<<"$contents" || fail "hafen.toml is not 0640"
for field in Package Version Architecture Maintainer Depends Section Priority Description; do
  [ -n "$(dpkg-deb -f "$deb" "$field")" ] || fail "control field $field is empty"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/hafen/hafen.toml \
  || fail "hafen.toml is not a conffile"
copyright=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/doc/hafen/copyright)
grep -q '^License: AGPL-3.0-or-later' <<<"$copyright" || fail "the copyright file lacks Hafen's licence"
grep -q '^License: OFL-1.1' <<<"$copyright" && grep -q 'SIL OPEN FONT LICENSE Version 1.1' <<<"$copyright" \
  || fail "the copyright file lacks the fonts' licence (OFL)"

step "lintian"
lintian_out=$(lintian --info "$deb" 2>&1 || true)
echo "$lintian_out"
if grep -E '^(E|W): ' <<<"$lintian_out" >/dev/null; then
  fail "lintian reports errors or warnings (documented exceptions go to packaging/lintian-overrides)"
fi

step "systemd unit exposure"
systemd-analyze security --offline=true systemd/hafen.service | tail -n 1
systemd-analyze security --offline=true --threshold=15 systemd/hafen.service >/dev/null \
  || fail "the unit's exposure is above 1.5"
# Read whole first: `grep -q` stops reading early, and under pipefail tar's broken pipe failed it.
unit=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*/hafen.service')
grep -qx 'Environment=MALLOC_ARENA_MAX=2' <<<"$unit" \
  || fail "the packaged unit does not limit glibc's malloc arenas (docs/benchmarks.md, memory at 10M)"

step "the README's links and pictures are in the package"
python3 - "$deb" <<'PY'
import os, re, subprocess, sys
names = set(os.path.normpath(line.split()[-1]) for line in
            subprocess.run(["dpkg-deb", "-c", sys.argv[1]], capture_output=True, text=True, check=True).stdout.splitlines())
doc = "usr/share/doc/hafen"
text = subprocess.run(["dpkg-deb", "--fsys-tarfile", sys.argv[1]], capture_output=True, check=True).stdout
import io, tarfile
tar = tarfile.open(fileobj=io.BytesIO(text))
dead = []
for member in tar.getmembers():
    path = os.path.normpath(member.name)
    if not (path.startswith(doc) and path.endswith(".md")):
        continue
    body = tar.extractfile(member).read().decode()
    for target in re.findall(r"\]\(([^)#\s]+)", body):
        if re.match(r"[a-z]+:", target):
            continue
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
        if resolved not in names and not any(n.startswith(resolved + "/") for n in names):
            dead.append(f"{path} -> {target}")
if dead:
    sys.exit("dead links in the shipped documents:\n  " + "\n  ".join(dead))
PY

# `sudo` as docs/operations.md writes it; a root shell without sudo runs the same commands.
if ! command -v sudo >/dev/null 2>&1; then
  sudo() {
    if [ "$1" = -u ]; then local user=$2; shift 2; setpriv --reuid="$user" --regid="$user" --init-groups "$@"
    else "$@"; fi
  }
fi
# Runs a command exactly as docs/operations.md gives it (placeholders filled in by the caller):
# the line must be in the document, so the document cannot drift from what is tested.
documented() {
  grep -qF -- "$1" docs/operations.md || fail "not in docs/operations.md: $1"
  shift
  step "\$ $*"
  eval "$*"
}

step "installing"
if [ -e "$marker" ] || [ "${HAFEN_TEST_DEB_REPLACE:-}" = yes ]; then
  echo 'hafen hafen/purge_data boolean true' | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive dpkg --purge hafen >/dev/null 2>&1 || true
  rm -rf /etc/hafen /var/lib/hafen /var/backups/hafen
fi
dpkg -i "$deb"
touch "$marker"
getent passwd hafen >/dev/null || fail "postinst did not create the user hafen"
mode() { stat -c '%a %U:%G' "$1"; }
[ "$(mode /var/lib/hafen)" = "700 hafen:hafen" ] || fail "/var/lib/hafen is $(mode /var/lib/hafen)"
[ "$(mode /etc/hafen)" = "750 root:hafen" ] || fail "/etc/hafen is $(mode /etc/hafen)"
[ "$(mode /etc/hafen/hafen.toml)" = "640 root:hafen" ] || fail "hafen.toml is $(mode /etc/hafen/hafen.toml)"
[ "$(mode /etc/hafen/master.key)" = "600 hafen:hafen" ] || fail "master.key is $(mode /etc/hafen/master.key)"
[ "$(mode /var/backups/hafen)" = "700 hafen:hafen" ] || fail "/var/backups/hafen is $(mode /var/backups/hafen)"
[ -s /var/lib/hafen/initial-admin-token ] || fail "no initial admin token"
[ "$(mode /var/lib/hafen/initial-admin-token)" = "600 hafen:hafen" ] || fail "the token file is not private"
key_sum=$(sha256sum /etc/hafen/master.key)

# What the unit's LoadCredential= does: a private copy of the key for the service user.
cred=$(mktemp -d)
install -m 0600 -o hafen -g hafen /etc/hafen/master.key "$cred/master-key"
chown hafen:hafen "$cred"; chmod 0700 "$cred"
port=18187
# setpriv execs (no parent left behind), so $! below is the server itself.
unit_env=(env HAFEN_CONFIG=/etc/hafen/hafen.toml
          CREDENTIALS_DIRECTORY="$cred" HAFEN_LISTEN="127.0.0.1:$port" HAFEN_LOG_FORMAT=json)
server=
start() {
  if curl -s "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
    fail "port $port is already taken by another server"
  fi
  setpriv --reuid=hafen --regid=hafen --init-groups "${unit_env[@]}" /usr/lib/hafen/hafen serve \
    >"$cred/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 200); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$server" 2>/dev/null || { cat "$cred/serve.log"; fail "the server exited"; }
    sleep 0.1
  done
  cat "$cred/serve.log"; fail "/readyz did not answer"
}
stop() {
  kill -TERM "$server"
  wait "$server" || true
  for _ in $(seq 1 50); do
    curl -s "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 || return 0
    sleep 0.1
  done
  fail "the server did not stop"
}
# Only a started server is killed: `kill 0` would signal this whole process group (CI included).
trap '[ -z "${server:-}" ] || kill "$server" 2>/dev/null || true' EXIT

step "the admin's first commands, as docs/operations.md gives them"
# A fresh install must pass every check. Free disk space is the build machine's, not the
# package's: a shared CI disk that runs low is reported, not counted as a package failure.
if ! doctor=$(documented 'sudo hafen doctor' 'sudo hafen doctor'); then
  echo "$doctor"
  if echo "$doctor" | grep '^FAIL' | grep -qv 'disk space'; then
    fail "hafen doctor fails on a fresh install"
  fi
  echo "test-deb: note: only the build machine's free disk space failed; not a package defect"
else
  echo "$doctor"
fi
documented "printf '%s\\n' 'a long passphrase' | sudo hafen user add --login it@muster.de --role admin" \
  "printf '%s\\n' 'a long passphrase' | sudo hafen user add --login it@muster.de --role admin"
# The upgrade command, as docs/operations.md "Upgrades" gives it: on a fresh install nothing to do.
migrated=$(documented 'sudo hafen migrate' 'sudo hafen migrate')
echo "$migrated"
# `documented` prints the step's own line first: the command's answer is the last line.
[ "$(printf '%s\n' "$migrated" | tail -n 1)" = "database is up to date" ] \
  || fail "hafen migrate on a fresh install said: $migrated"
for f in /var/lib/hafen/*; do
  [ "$(stat -c %U "$f")" = hafen ] || fail "$f belongs to $(stat -c %U "$f") after a command run as root"
done

step "serving as user hafen with the packaged configuration"
start
token=$(cat /var/lib/hafen/initial-admin-token)
api() { curl -sf -X "$1" "http://127.0.0.1:$port$2" -H "Authorization: Bearer $token" \
          -H 'content-type: application/json' ${3:+-d "$3"}; }
tenant=$(api POST /v1/tenants '{"name":"Paket GmbH"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
msg=$(api POST "/v1/tenants/$tenant/messages" '{"contact":{"channel":"whatsapp","address":"+4915100000042"},"direction":"in","occurred_at":"2026-11-26T10:00:00Z","kind":"text","body":"Paketinhalt"}' \
      | sed 's/.*"id":"\([^"]*\)".*/\1/')
[ -n "$msg" ] || fail "no message stored"
crm=$(documented 'sudo hafen token create --tenant <tenant id> --role agent --name "CRM" --expires-in 90d' \
        "sudo hafen token create --tenant $tenant --role agent --name CRM --expires-in 90d" | tail -n 1)
curl -sf "http://127.0.0.1:$port/v1/tenants/$tenant/contacts" -H "Authorization: Bearer $crm" >/dev/null \
  || fail "the token made on the command line is refused by the server"

step "backup (online) into the package's backup directory, and restore"
documented 'sudo hafen backup --out /var/backups/hafen/manual-2026-11-27' \
  'sudo hafen backup --out /var/backups/hafen/manual-2026-11-27'
[ "$(stat -c %U /var/backups/hafen/manual-2026-11-27)" = hafen ] || fail "the backup is not the service's"
stop
documented 'sudo -u hafen mv /var/lib/hafen/hafen.db /var/lib/hafen/hafen.db.old' \
  'sudo -u hafen mv /var/lib/hafen/hafen.db /var/lib/hafen/hafen.db.old'
rm -f /var/lib/hafen/hafen.db-wal /var/lib/hafen/hafen.db-shm
documented 'sudo hafen restore --from /var/backups/hafen/' \
  'sudo hafen restore --from /var/backups/hafen/manual-2026-11-27'
start
api GET "/v1/tenants/$tenant/messages/$msg" | grep -q '"body":"Paketinhalt"' || fail "the restored message does not read back"
stop

step "upgrade (reinstall) keeps data, configuration and key"
dpkg -i "$deb" >/dev/null
[ "$(sha256sum /etc/hafen/master.key)" = "$key_sum" ] || fail "the master key changed on upgrade"
[ -e /var/lib/hafen/hafen.db ] || fail "the database is gone after the upgrade"
start
api GET "/v1/tenants/$tenant/messages/$msg" | grep -q Paketinhalt || fail "data unreadable after the upgrade"
stop

step "a purge without an answer keeps the data and the key, and says where"
purge_out=$(DEBIAN_FRONTEND=noninteractive dpkg --purge hafen 2>&1)
echo "$purge_out"
grep -q "purge kept the data" <<<"$purge_out" || fail "the purge did not say it kept the data"
[ -e /var/lib/hafen/hafen.db ] || fail "a purge without an answer deleted the database"
[ "$(sha256sum /etc/hafen/master.key)" = "$key_sum" ] || fail "a purge without an answer deleted the key"
[ -e /var/backups/hafen/manual-2026-11-27 ] || fail "the purge deleted a backup"
step "a new install continues with the kept data"
dpkg -i "$deb" >/dev/null
start
api GET "/v1/tenants/$tenant/messages/$msg" | grep -q Paketinhalt || fail "the kept data is unreadable after reinstalling"
stop

step "a purge answered yes deletes data, configuration and key; backups stay"
echo 'hafen hafen/purge_data boolean true' | debconf-set-selections
DEBIAN_FRONTEND=noninteractive dpkg --purge hafen
[ ! -e /etc/hafen ] || fail "/etc/hafen survived the purge"
[ ! -e /var/lib/hafen ] || fail "/var/lib/hafen survived the purge"
[ -e /var/backups/hafen/manual-2026-11-27 ] || fail "the purge deleted a backup"
rm -rf "$cred" /var/backups/hafen
step "passed"
