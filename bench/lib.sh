# Sourced by bench/run-*: the build, a throw-away PostgreSQL cluster, CPU
# accounting that survives processes coming and going, invariant checks, the
# rows of the results table. Not a program of its own.
#
# A run script sets `bench_name` (for messages), then calls bench_setup, which
# cds to the tree, sets root, build, work (a temp folder removed at exit unless
# TB_BENCH_KEEP=1) and installs the exit trap; a script adds its own clean-up to
# bench_cleanup_hooks (function names, run first, in order).

bench_cleanup_hooks=()

bench_failed=""
bench_fail() {
  bench_failed=1
  echo "$bench_name: FAILED: $*" >&2
  exit 1
}

# bench_check "what was expected" TEST...: the test (as for `[`) must hold,
# else the run fails with that line. Every benchmark checks its own
# invariants this way, so a figure is never printed over a broken run.
bench_check() {
  local what=$1
  shift
  [ "$@" ] || bench_fail "invariant broken: $what"
}

bench_cleanup() {
  local rc=$? h
  trap - EXIT INT TERM
  # Any other way out with an error (a command that failed under set -e)
  # fails the run just as loudly.
  [ "$rc" = 0 ] || [ -n "$bench_failed" ] ||
    echo "$bench_name: FAILED: exit status $rc (see the lines above)" >&2
  for h in "${bench_cleanup_hooks[@]}"; do "$h" || true; done
  if [ -n "${work:-}" ]; then
    "$root/scripts/pg-temp" stop "$work/pg" >/dev/null 2>&1 || true
    if [ "${TB_BENCH_KEEP:-0}" = 1 ]; then
      echo "kept $work" >&2
    else
      rm -rf "$work"
    fi
  fi
  exit "$rc"
}

# bench_setup TARGET...: builds the Release tree (TB_BENCH_BUILD, default
# build-bench; skipped with TB_BENCH_NO_BUILD=1) with those targets.
bench_setup() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  root=$(pwd)
  build=${TB_BENCH_BUILD:-$root/build-bench}
  case $build in /*) ;; *) build=$root/$build ;; esac
  if [ "${TB_BENCH_NO_BUILD:-0}" != 1 ]; then
    echo "==> building $build (Release)" >&2
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTB_TESTS=OFF -DTB_BENCH=ON \
      >/dev/null
    cmake --build "$build" -j"$(nproc)" --target "$@" >/dev/null
  fi
  work=$(mktemp -d /tmp/tb-bench.XXXXXX)
  chmod 755 "$work" # the server runs as postgres when we are root
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

sql() { "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -At "$1" -c "$2"; }

# bench_pg_start DURABLE: a cluster under $work/pg (scripts/pg-temp), with
# fsync, synchronous_commit and full_page_writes back on when DURABLE is 1
# (pg-temp turns them off for tests), and a database "bench". Sets pgbin,
# base (conninfo without dbname), db (conninfo of bench), pgdata.
bench_pg_start() {
  echo "==> PostgreSQL under $work/pg" >&2
  local pgenv
  pgenv=$("$root/scripts/pg-temp" start "$work/pg")
  eval "$pgenv"
  pgbin=$TB_TEST_PGBIN
  base=$TB_TEST_PG
  pgdata=$TB_TEST_PGDATA
  if [ "$1" = 1 ]; then
    local s
    for s in fsync synchronous_commit full_page_writes; do
      sql "$base dbname=postgres" "ALTER SYSTEM SET $s = on"
    done
    sql "$base dbname=postgres" "SELECT pg_reload_conf()" >/dev/null
    # The postmaster's children pick the reload up on their own time: wait
    # until a new session sees it.
    for _ in $(seq 1 50); do
      [ "$(sql "$base dbname=postgres" "SHOW synchronous_commit")" = on ] && break
      sleep 0.1
    done
  fi
  sql "$base dbname=postgres" "CREATE DATABASE bench"
  db="$base dbname=bench"
  echo "    fsync=$(sql "$db" "SHOW fsync") synchronous_commit=$(sql "$db" \
    "SHOW synchronous_commit") full_page_writes=$(sql "$db" "SHOW full_page_writes")" >&2
}

# A free TCP port on loopback (as scripts/pg-temp finds one: without python3, a
# random one, and a port taken meanwhile makes the service fail to start).
bench_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' \
    2>/dev/null || echo $((20000 + RANDOM % 20000))
}

# bench_services_start LOGLEVEL: migrates $db and starts tb-intake, tb-matching
# and tb-notification of $build on free loopback ports, each logging to
# $work/SVC.log; sets services, bin[SVC], pid[SVC] and the endpoints
# intake_api, intake_feed, matching_api, matching_feed, notif_api, notif_pub.
# Fails the run when one exits or does not bind. bench_services_stop (also a
# clean-up hook) stops them with SIGTERM, the consumers first.
bench_services_start() {
  local loglevel=$1 svc ep p i
  services=(intake matching notification)
  declare -gA bin=(
    [intake]=$build/services/intake/tb-intake
    [matching]=$build/services/matching/tb-matching
    [notification]=$build/services/notification/tb-notification
  )
  declare -gA pid=()
  for svc in "${services[@]}"; do
    [ -x "${bin[$svc]}" ] || bench_fail "${bin[$svc]} missing"
  done
  bench_cleanup_hooks+=(bench_services_stop)
  "${bin[intake]}" --migrate --database-url "$db" --log-level warn 2>"$work/migrate.log" ||
    { cat "$work/migrate.log" >&2; exit 1; }
  intake_api="tcp://127.0.0.1:$(bench_port)"
  intake_feed="tcp://127.0.0.1:$(bench_port)"
  matching_api="tcp://127.0.0.1:$(bench_port)"
  matching_feed="tcp://127.0.0.1:$(bench_port)"
  notif_api="tcp://127.0.0.1:$(bench_port)"
  notif_pub="tcp://127.0.0.1:$(bench_port)"
  local common=(--database-url "$db" --log-level "$loglevel" --stats-interval 0)
  echo "==> starting the services (log level $loglevel)" >&2
  "${bin[intake]}" "${common[@]}" --api "$intake_api" --feed "$intake_feed" \
    2>"$work/intake.log" &
  pid[intake]=$!
  "${bin[matching]}" "${common[@]}" --api "$matching_api" --feed "$matching_feed" \
    --intake-feed "$intake_feed" 2>"$work/matching.log" &
  pid[matching]=$!
  "${bin[notification]}" "${common[@]}" --api "$notif_api" --pub "$notif_pub" \
    --intake-feed "$intake_feed" --matching-feed "$matching_feed" \
    2>"$work/notification.log" &
  pid[notification]=$!
  # Up when each API port accepts (a failed start must be an error, not timeouts).
  for svc in "${services[@]}"; do
    case $svc in
      intake) ep=$intake_api ;; matching) ep=$matching_api ;; *) ep=$notif_api ;;
    esac
    p=${ep##*:}
    for i in $(seq 1 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break
      kill -0 "${pid[$svc]}" 2>/dev/null || { cat "$work/$svc.log" >&2; exit 1; }
      [ "$i" = 100 ] && bench_fail "tb-$svc did not bind $ep"
      sleep 0.1
    done
  done
}

bench_services_stop() {
  local svc
  for svc in notification matching intake; do
    if [ -n "${pid[$svc]:-}" ] && kill -0 "${pid[$svc]}" 2>/dev/null; then
      kill -TERM "${pid[$svc]}" 2>/dev/null || true
      wait "${pid[$svc]}" 2>/dev/null || true
    fi
  done
}

hz=$(getconf CLK_TCK)

# proc_ticks PID: CPU clock ticks (utime + stime, every thread) of a live
# process; empty when it is gone.
proc_ticks() {
  local a
  a=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  set -- ${a##*) }
  echo $((${12} + ${13}))
}

# cluster_ticks: CPU clock ticks of the whole PostgreSQL cluster so far:
# the postmaster, every live child (backends, WAL writer, checkpointer,
# autovacuum workers, ...) and every child that has exited (the kernel adds a
# reaped child's time to its parent's cutime/cstime). So the difference of two
# readings is all the CPU the cluster spent between them, however many
# backends came and went in between. A child reaped during the reading would
# be counted twice or not at all: the postmaster is read before and after its
# children, and the reading is taken again when its reaped time moved. One
# `cat` reads every /proc file, so a reading takes milliseconds even when the
# machine is saturated. Prints nothing when no consistent reading came.
cluster_ticks() {
  local pm kids
  pm=$(head -1 "$pgdata/postmaster.pid")
  for _ in 1 2 3 4 5 6 7 8; do
    # The postmaster has one thread: its children are that thread's.
    kids=$(tr ' ' '\n' <"/proc/$pm/task/$pm/children" | sed '/^$/d; s|.*|/proc/&/stat|')
    # A child gone meanwhile makes cat fail: the postmaster's two readings
    # tell whether that matters.
    # shellcheck disable=SC2086
    { cat "/proc/$pm/stat" $kids "/proc/$pm/stat" 2>/dev/null || true; } | awk '
      { sub(/^.*\) /, ""); n++; u[n] = $12 + $13; r[n] = $14 + $15 }
      END {
        if (n < 2 || r[1] != r[n]) exit 1
        t = u[1] + r[1]
        for (i = 2; i < n; i++) t += u[i]
        print t
      }' && return 0
  done
  return 0
}

# cpu_us_per TICKS ROWS: microseconds of CPU per row, or "n/a (why)".
# Ticks come from two readings: an empty or negative difference cannot be a
# CPU time, and neither can more than the machine's cores over the seconds
# given as $3 (with 5% for the tick granularity).
cpu_us_per() {
  local ticks=$1 rows=$2 secs=${3:-0}
  if [ -z "$ticks" ]; then echo "n/a (no consistent /proc reading)"; return; fi
  if [ "$rows" -le 0 ]; then echo "n/a (no rows)"; return; fi
  if [ "$ticks" -lt 0 ]; then echo "n/a (CPU went backwards: $ticks ticks)"; return; fi
  if [ "$secs" != 0 ] && awk -v t="$ticks" -v hz="$hz" -v s="$secs" -v c="$(nproc)" \
    'BEGIN { exit !(t / hz > s * c * 1.05 + 0.05) }'; then
    echo "n/a (more CPU than $(nproc) cores give in ${secs} s)"
    return
  fi
  awk -v t="$ticks" -v r="$rows" -v hz="$hz" 'BEGIN { printf "%.0f\n", t * 1e6 / hz / r }'
}

# ticks_diff A B: B - A, empty when either reading is missing.
ticks_diff() {
  case "$1:$2" in *[!0-9:]* | :* | *:) return 0 ;; esac
  echo $(($2 - $1))
}

# machine_busy SECONDS: how busy the machine's cores were over that many
# seconds, in percent of all of them (from /proc/stat: everything but idle and
# iowait). Taken while no benchmark runs, it is the other work's share.
machine_busy() {
  local a b
  a=$(head -1 /proc/stat)
  sleep "$1"
  b=$(head -1 /proc/stat)
  printf '%s\n%s\n' "$a" "$b" | awk '
    { t = 0; for (i = 2; i <= NF; i++) t += $i; tot[NR] = t; idle[NR] = $5 + $6 }
    END { dt = tot[2] - tot[1]; if (dt > 0) printf "%.0f\n", 100 * (dt - (idle[2] - idle[1])) / dt }'
}

# The machine, for the table: cores, CPU model, memory, system, PostgreSQL.
bench_machine() {
  local cpu mem os bin=${pgbin:-}
  [ -n "$bin" ] || bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r | head -1)
  cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
  os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
  echo "$(nproc) cores (${cpu:-unknown CPU}), $mem, ${os:-unknown system}," \
    "PostgreSQL $("$bin/postgres" --version 2>/dev/null | awk '{ print $3 }')"
}

# bench_row CELLS...: one row of the results table (markdown), on stdout and,
# when TB_BENCH_TABLE names a file, appended to it (bench/run-all collects them).
bench_row() {
  local line="|" c
  for c in "$@"; do line="$line $c |"; done
  echo "$line"
  [ -z "${TB_BENCH_TABLE:-}" ] || echo "$line" >>"$TB_BENCH_TABLE"
}

# fmt_int N: 12345.6 -> 12,346
fmt_int() { LC_ALL=C awk -v n="$1" 'BEGIN { s = sprintf("%.0f", n); o = "";
  while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
  print s o }'; }

# ratio A B: A / B with two decimals, "n/a" when B is 0 or missing.
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "n/a" }'; }
