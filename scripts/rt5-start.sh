#!/usr/bin/env bash
# rt5-start.sh - crm-bridge's own Request Tracker 5 for the rt connector's tests
# and benchmark: install RT from Debian bookworm's packages (idempotently), give
# this instance a private configuration and SQLite database, start RT's
# standalone (Starlet) server on 127.0.0.1:${RT_PORT:-8099} and print the base
# URL on stdout once REST 2.0 answers.
#
#   scripts/rt5-start.sh           install if needed, init DB if missing, start
#   scripts/rt5-start.sh stop      stop the server this script started (pid file)
#   scripts/rt5-start.sh status    exit 0 and print the URL if it is running
#
# Environment (all optional):
#   RT_PORT=8099                   loopback port (8099: clear of the shared 8080 one)
#   RT_ROOT_PASSWORD=password      password of RT user 'root' (set at DB init only)
#   RT_STATE_DIR=/var/lib/crm-bridge-rt
#                                  pid file, server log, SQLite DB, private config
#   RT_FRESH=1                     stop a running server, delete the DB, re-init
#   RT_INITDATA=FILE               RT initialdata (users, rights...) inserted after
#                                  a DB init; it may write files under RT_STATE_DIR
#   RT_START_TIMEOUT=120           seconds to wait for REST2
#
# Adapted from ../shared/crm/rt5-start.sh. What differs, and why:
#   * the configuration lives in $RT_STATE_DIR/site-config.d and reaches RT through
#     RT_SITE_CONFIG_DIR, so this instance never rewrites (or reads) the machine's
#     /etc/request-tracker5/RT_SiteConfig.d/ and can run beside another RT;
#   * RT_INITDATA provisions accounts at DB init (REST 2.0 cannot grant rights);
#   * $Timezone is UTC, so RT's own timestamps and TicketSQL dates agree.
# Needs root. Downloads nothing but Debian packages (apt-get).
set -euo pipefail

RT_PORT="${RT_PORT:-8099}"
RT_ROOT_PASSWORD="${RT_ROOT_PASSWORD:-password}"
RT_STATE_DIR="${RT_STATE_DIR:-/var/lib/crm-bridge-rt}"
RT_START_TIMEOUT="${RT_START_TIMEOUT:-120}"
HOST=127.0.0.1
BASE="http://${HOST}:${RT_PORT}"
PIDFILE="${RT_STATE_DIR}/rt-server.pid"
LOGFILE="${RT_STATE_DIR}/rt-server.log"
DB="${RT_STATE_DIR}/rt.sqlite"
CONFDIR="${RT_STATE_DIR}/site-config.d"
RT_SERVER=/usr/share/request-tracker5/libexec/rt-server
PKGS=(request-tracker5 rt5-db-sqlite rt5-standalone)
command -v curl >/dev/null 2>&1 || PKGS+=(curl)
export RT_SITE_CONFIG_DIR="$CONFDIR" RT_STATE_DIR

log() { echo "rt5-start: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

running_pid() {   # prints the pid from the pid file if that process is our rt-server
  local pid
  [ -s "$PIDFILE" ] || return 1
  pid="$(cat "$PIDFILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  grep -q rt-server "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

stop_server() {
  local pid _
  if pid="$(running_pid)"; then
    log "stopping rt-server pid $pid"
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then log "pid $pid did not stop on TERM; sending KILL"; kill -9 "$pid" || true; fi
  else
    log "no running rt-server recorded in $PIDFILE"
  fi
  rm -f "$PIDFILE"
}

rest_ok() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
        -u "root:${RT_ROOT_PASSWORD}" "${BASE}/REST/2.0/rt" 2>/dev/null)" = 200 ]
}

case "${1:-start}" in
  stop) stop_server; exit 0 ;;
  status)
    if running_pid >/dev/null && rest_ok; then echo "$BASE"; exit 0; fi
    exit 1 ;;
  start) ;;
  *) die "usage: $0 [start|stop|status]" ;;
esac

# one server per RT_STATE_DIR: refuse to reconfigure one running on another port
if pid="$(running_pid)" && [[ "$(tr '\0' ' ' < "/proc/$pid/cmdline")" != *"--port ${RT_PORT} "* ]]; then
  die "rt-server pid $pid (from $PIDFILE) runs on another port; run '$0 stop' first"
fi

# ---------------------------------------------------------------- install
installed() {
  local p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || return 1
  done
}
if ! installed; then
  log "installing ${PKGS[*]} (Debian packages)"
  # Answer every debconf question up front; this script makes its own SQLite file
  # and configuration below, so dbconfig-common is told to keep out.
  if debconf-set-selections <<EOF
request-tracker5 request-tracker5/rtname string rt.localhost
request-tracker5 request-tracker5/organization string localhost
request-tracker5 request-tracker5/correspondaddress string rt@localhost
request-tracker5 request-tracker5/commentaddress string rt-comment@localhost
request-tracker5 request-tracker5/webbaseurl string ${BASE}
request-tracker5 request-tracker5/webpath string /
request-tracker5 request-tracker5/handle-siteconfig-permissions boolean true
request-tracker5 request-tracker5/install-cronjobs boolean false
request-tracker5 request-tracker5/dbconfig-install boolean false
request-tracker5 request-tracker5/database-type select sqlite3
EOF
  then :; else
    # happens after a purge (dbconfig's templates are left behind): harmless
    log "some debconf answers could not be preseeded; continuing"
  fi
  export DEBIAN_FRONTEND=noninteractive
  mkdir -p "$RT_STATE_DIR"
  # a fresh machine has no package lists yet: update first, every time we install
  { apt-get update && apt-get install -y --no-install-recommends "${PKGS[@]}"; } \
      >"$RT_STATE_DIR/apt.log" 2>&1 \
    || { tail -n 40 "$RT_STATE_DIR/apt.log" >&2; die "apt-get failed (log: $RT_STATE_DIR/apt.log)"; }
fi
[ -x "$RT_SERVER" ] || die "$RT_SERVER missing after install"

# ---------------------------------------------------------------- configure
install -d -m 0750 -o www-data -g www-data "$RT_STATE_DIR"
install -d -m 0750 -o root -g www-data "$CONFDIR"
# Debian leaves this (comment-only) file root:root 0600 on a fresh install,
# which makes RT print "Permission denied" when it runs as www-data.
if [ -f /etc/request-tracker5/RT_SiteConfig.pm ]; then
  chown root:www-data /etc/request-tracker5/RT_SiteConfig.pm
  chmod 0640 /etc/request-tracker5/RT_SiteConfig.pm
fi
tmp="$(mktemp)"
cat > "$tmp" <<EOF
# Written by crm-bridge's scripts/rt5-start.sh; RT reads only this folder
# (RT_SITE_CONFIG_DIR), not /etc/request-tracker5/RT_SiteConfig.d/.
# Single quotes: in double quotes Perl would read @localhost as an (empty) array.
Set(\$rtname, 'rt.localhost');
Set(\$Organization, 'localhost');
Set(\$CorrespondAddress, 'rt@localhost');
Set(\$CommentAddress, 'rt-comment@localhost');
Set(\$Timezone, 'UTC');
Set(\$DatabaseType, 'SQLite');
Set(\$DatabaseName, '${DB}');
Set(\$WebPath, '');
Set(\$WebBaseURL, '${BASE}');
# no syslog daemon in CI: log warnings to the server log instead
Set(\$LogToSyslog, undef);
Set(\$LogToFile, undef);
Set(\$LogToSTDERR, 'warning');
# never send mail: outgoing mail is appended to /var/lib/request-tracker5/*.mbox
Set(\$MailCommand, 'mbox');
# bcrypt cost 12 (default) costs ~250 ms on every basic-auth request; 4 is fine for CI
Set(\$BcryptCost, 4);
# RT's built-in HTML->text converter; an external one (w3m) halves create throughput
Set(\$HTMLFormatter, 'core');
1;
EOF
install -m 0640 -o root -g www-data "$tmp" "$CONFDIR/99-crm-bridge.pm"
rm -f "$tmp"

if [ "${RT_FRESH:-0}" = 1 ]; then
  stop_server
  rm -f "$DB" "$DB-journal" "$DB-wal" "$DB-shm"
fi

as_www() { setpriv --reuid=www-data --regid=www-data --init-groups "$@"; }

if [ ! -s "$DB" ]; then
  log "initialising SQLite database $DB"
  pwfile="$(mktemp)"; chown www-data "$pwfile"
  printf '%s\n' "$RT_ROOT_PASSWORD" > "$pwfile"
  rm -f "$DB"
  ( cd "$RT_STATE_DIR" && as_www /usr/sbin/rt-setup-database-5 --action init --skip-create \
        --root-password-file "$pwfile" </dev/null >"$RT_STATE_DIR/setup-database.log" 2>&1 ) \
    || { rm -f "$pwfile" "$DB"; cat "$RT_STATE_DIR/setup-database.log" >&2; die "database init failed"; }
  rm -f "$pwfile"
  if [ -n "${RT_INITDATA:-}" ]; then
    log "inserting $RT_INITDATA"
    data="$RT_STATE_DIR/initdata.pl"   # a copy www-data can read, wherever the original is
    install -m 0640 -o root -g www-data "$RT_INITDATA" "$data"
    ( cd "$RT_STATE_DIR" && as_www /usr/sbin/rt-setup-database-5 --action insert \
          --datafile "$data" </dev/null >>"$RT_STATE_DIR/setup-database.log" 2>&1 ) \
      || { rm -f "$DB"; tail -n 30 "$RT_STATE_DIR/setup-database.log" >&2; die "inserting $RT_INITDATA failed"; }
  fi
fi

# ---------------------------------------------------------------- start
if pid="$(running_pid)"; then
  log "rt-server already running (pid $pid)"
else
  if (exec 3<>"/dev/tcp/${HOST}/${RT_PORT}") 2>/dev/null; then
    die "something else already listens on ${HOST}:${RT_PORT}"
  fi
  log "starting rt-server on ${HOST}:${RT_PORT}, log $LOGFILE"
  cd "$RT_STATE_DIR"
  # setsid detaches it from the caller's process group; setsid and setpriv both
  # exec, so $! is the pid of the Starlet master process itself.
  setsid setpriv --reuid=www-data --regid=www-data --init-groups \
    "$RT_SERVER" --host "$HOST" --port "$RT_PORT" >>"$LOGFILE" 2>&1 </dev/null &
  echo $! > "$PIDFILE"
fi

deadline=$(( $(date +%s) + RT_START_TIMEOUT ))
until rest_ok; do
  if ! running_pid >/dev/null; then
    tail -n 30 "$LOGFILE" >&2 || true
    die "rt-server exited before REST2 answered"
  fi
  [ "$(date +%s)" -lt "$deadline" ] || die "REST2 did not answer within ${RT_START_TIMEOUT}s (see $LOGFILE)"
  sleep 0.5
done
log "REST2 ready at ${BASE}/REST/2.0/ (user root); pid $(cat "$PIDFILE") in $PIDFILE"
echo "$BASE"
