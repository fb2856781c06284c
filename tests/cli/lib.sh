# shellcheck shell=bash
# lib.sh - shared helpers for the CLI tests: each test_*.sh is a small program run by
# CTest as `bash test_X.sh PATH/thongquan`, which prints what it checks and exits 0 only
# when every check held.
set -uo pipefail
TQ=${1:?usage: $0 PATH/thongquan}
TQ=$(cd "$(dirname "$TQ")" && pwd)/$(basename "$TQ")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
SHARED=$(cd "$TOP/../shared" 2>/dev/null && pwd || true)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tqcli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
checks=0

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }
done_ok() { echo "ok: $checks checks"; exit 0; }

# expect_status N CMD... : run CMD, require exit status N; stderr goes to $WORK/err
expect_status() {
  local want=$1; shift
  local got=0
  "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
  [ "$got" = "$want" ] || fail "'$*' exited $got, wanted $want: $(head -c 600 "$WORK/err")"
  ok
}

# a sanitizer report in stderr fails the test even when the status was right
no_sanitizer_report() {
  if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$WORK/err"; then
    fail "sanitizer report: $(head -c 800 "$WORK/err")"
  fi
}

need_shared() {
  if [ -z "$SHARED" ] || [ ! -d "$SHARED/conformance/cases" ]; then
    echo "skipped: ../shared/conformance is not beside the checkout"
    exit 77
  fi
}

# sleep_us US : sleep US microseconds, seconds included (1500000 is 1.5 s, never 0.15 s),
# and fail if the sleep came back early: a kill test whose delays were cut short would
# only ever kill the start of a run and still pass.
sleep_us() {
  local t0 t1
  t0=$(date +%s%N)
  sleep "$(($1 / 1000000)).$(printf '%06d' $(($1 % 1000000)))"
  t1=$(date +%s%N)
  [ $(( (t1 - t0) / 1000 )) -ge "$1" ] || fail "sleep_us $1 slept only $(( (t1 - t0) / 1000 )) us"
}

# kill_all_or_nothing KILLS WHAT STATE CMD... : the proof that CMD is one transaction.
# Before the call: $WORK/pre holds the database before CMD, $WORK/state.before and
# $WORK/state.after what `STATE DIR OUT` writes to OUT for it before and after an
# uninterrupted run, $full_us that run's length, RANDOM seeded.  CMD runs on $WORK/k, a
# fresh copy of $WORK/pre, and is killed with SIGKILL at a random instant within 110% of
# a run (so the last instants, commit and close, are hit too) until KILLS kills land;
# after each, the state must be the one before or the one after.  A run that finishes
# first must end in the state after.  Sets killed, as_before, as_after, finished;
# leaves $WORK/k as the last kill left it, for the caller's rerun.
kill_all_or_nothing() {
  local kills=$1 what=$2 state=$3 round=0 delay_us pid r0 r_us
  shift 3
  killed=0 as_before=0 as_after=0 finished=0
  kill_restore
  while [ $killed -lt "$kills" ]; do
    round=$((round + 1))
    [ $round -le $((kills * 4)) ] || fail "could not land $kills kills in $round rounds"
    delay_us=$(((RANDOM * 32768 + RANDOM) % (full_us + full_us / 10)))
    "$@" 2>"$WORK/kerr" &   # the program itself, not a subshell: the kill must hit it
    pid=$!
    r0=$(date +%s%N)
    sleep_us "$delay_us"
    if kill -KILL $pid 2>/dev/null; then
      wait $pid 2>/dev/null
      killed=$((killed + 1))
      "$state" "$WORK/k" "$WORK/state.now"
      if cmp -s "$WORK/state.now" "$WORK/state.before"; then
        as_before=$((as_before + 1))
      elif cmp -s "$WORK/state.now" "$WORK/state.after"; then
        as_after=$((as_after + 1)); kill_restore   # committed just before the kill
      else
        fail "kill $killed at ${delay_us} us left a state that is neither before nor after: $(diff "$WORK/state.before" "$WORK/state.now" | head -4)"
      fi
    else
      wait $pid || fail "$what failed: $(cat "$WORK/kerr")"
      finished=$((finished + 1))
      # the reference run was slower than this one (a loaded machine): aim within this one
      r_us=$((($(date +%s%N) - r0) / 1000))
      [ "$r_us" -ge "$full_us" ] || [ "$r_us" -le 1000 ] || full_us=$r_us
      "$state" "$WORK/k" "$WORK/state.now"
      cmp -s "$WORK/state.now" "$WORK/state.after" || fail "an uninterrupted $what ended elsewhere"
      kill_restore
    fi
    ok
  done
  echo "kills: $killed ($as_before left the state before, $as_after the state after); $finished runs of $what finished before their kill"
}
kill_restore() { rm -rf "$WORK/k"; cp -a "$WORK/pre" "$WORK/k"; }

# check_state DB : what `thongquan check --json` says of DB, less what differs between
# two copies of one database (its path, size, txnid, last page, pages visited)
check_state() {
  "$TQ" check --db "$1" --json | sed -E 's/"(database|bytes|txnid|last_page|pages_visited)":[^,]*,//g'
}

# reader_leaves_as_is DB WHAT : today's reader of the unpacked fixture DB gives what the
# test's `same_lists` wants and changes no byte of data.mdb.
reader_leaves_as_is() {
  local before
  before=$(md5sum <"$1/data.mdb")
  same_lists "$1" "$2"; ok
  [ "$(md5sum <"$1/data.mdb")" = "$before" ] || fail "a reader changed data.mdb"; ok
}

# upgraded_like_fixture DB : the checks every upgrade test makes of its upgraded copy of
# the fixture $FX: the marker says format 5, `export decisions` and `export permits` give
# the fixture's bytes, the test's own `same_lists DB WHAT` holds, `check` is clean, and a
# second upgrade has nothing to do.
upgraded_like_fixture() {
  grep -q '^format=5$' "$1/thongquan.db" || fail "marker: $(cat "$1/thongquan.db")"; ok
  expect_status 0 "$TQ" export decisions --db "$1" -o "$WORK/d.csv"
  cmp -s "$WORK/d.csv" "$FX/decisions.csv" || fail "after upgrade: decisions differ"; ok
  expect_status 0 "$TQ" export permits --db "$1" -o "$WORK/p.csv"
  cmp -s "$WORK/p.csv" "$FX/permits-export.csv" || fail "after upgrade: permits differ"; ok
  same_lists "$1" "after upgrade"; ok
  expect_status 0 "$TQ" check --db "$1"
  expect_status 0 "$TQ" upgrade --db "$1"
  grep -q "already at store format 5: nothing to do" "$WORK/out" ||
    fail "second upgrade: $(cat "$WORK/out")"; ok
}

# kill_upgrades FROM DONE_DB KILLS DONE CHECK : the proof that `thongquan upgrade` may be
# killed anywhere and run again.  Times one upgrade of a copy of the database FROM in
# batches of 7 rows (TQ_UPGRADE_BATCH: many commits to land on); then KILLS times:
# $WORK/k a fresh copy of FROM, its upgrade SIGKILLed after a random delay within that
# time, `CHECK $WORK/k "killed at D us, before the rerun"` (the test's checks of what a
# reader sees), the upgrade run again, `CHECK $WORK/k "killed at D us and rerun"`, and
# check_state of $WORK/k must be DONE_DB's (an uninterrupted upgrade of FROM).  A kill
# whose check output lacks the string DONE (which only a finished upgrade's shows)
# landed in the middle; at least one must.  Seed RANDOM first for repeatable delays.
# Sets killed and partial; fails when KILLS kills do not land within 4 x KILLS rounds.
kill_upgrades() {
  local from=$1 done_state kills=$3 done=$4 check=$5 round=0 delay_us pid t0 t1 full_us
  done_state=$(check_state "$2")
  export TQ_UPGRADE_BATCH=7
  rm -rf "$WORK/k" && cp -a "$from" "$WORK/k"
  t0=$(date +%s%N); "$TQ" upgrade --db "$WORK/k" --quiet || fail "timed upgrade"; t1=$(date +%s%N)
  full_us=$(((t1 - t0) / 1000)); [ "$full_us" -gt 2000 ] || full_us=2000
  echo "an uninterrupted upgrade in batches of 7 takes ${full_us} us"
  killed=0 partial=0
  while [ $killed -lt "$kills" ]; do
    round=$((round + 1))
    [ $round -le $((kills * 4)) ] || fail "could not land $kills kills in $round rounds"
    rm -rf "$WORK/k" && cp -a "$from" "$WORK/k"
    delay_us=$(((RANDOM * 32768 + RANDOM) % full_us))
    "$TQ" upgrade --db "$WORK/k" --quiet 2>"$WORK/kerr" &
    pid=$!
    sleep_us "$delay_us"
    if kill -KILL $pid 2>/dev/null; then
      killed=$((killed + 1))
    else
      # it had ended: on a loaded machine the timed run can be slow, so aim earlier
      full_us=$((full_us * 3 / 4)); [ "$full_us" -gt 2000 ] || full_us=2000
    fi
    wait $pid 2>/dev/null
    "$TQ" check --db "$WORK/k" --json >"$WORK/kcheck" 2>&1
    grep -qF -- "$done" "$WORK/kcheck" || partial=$((partial + 1))
    "$check" "$WORK/k" "killed at ${delay_us} us, before the rerun"
    expect_status 0 "$TQ" upgrade --db "$WORK/k" --quiet
    "$check" "$WORK/k" "killed at ${delay_us} us and rerun"
    [ "$(check_state "$WORK/k")" = "$done_state" ] ||
      fail "killed at ${delay_us} us and rerun: check differs: $(check_state "$WORK/k") vs $done_state"
    ok
  done
  unset TQ_UPGRADE_BATCH
  echo "kills: $killed, $partial of them in the middle of the upgrade; reruns all ended where the uninterrupted upgrade did"
  [ "$partial" -ge 1 ] || fail "no kill landed in the middle of the upgrade: the test proves nothing"; ok
}

# ---- a small backlog written by a test ----

# csv permits|payments FILE : FILE a CSV of that kind: its header, then the rows on stdin
csv() {
  case $1 in
    permits) echo 'permit_no,agency,holder,valid_from,valid_to,status,hs_prefixes,quota' ;;
    payments) echo 'decl_no,receipt_no,kind,amount,valid_until' ;;
    *) fail "csv: no kind $1" ;;
  esac >"$2"
  cat >>"$2"
}

# replay_backlog DB : $WORK/permits.csv and $WORK/payments.csv loaded into DB, then
# $WORK/events.ndjson packed into $WORK/j.tqj and replayed into it
replay_backlog() {
  expect_status 0 "$TQ" load permits "$WORK/permits.csv" --db "$1"
  expect_status 0 "$TQ" load payments "$WORK/payments.csv" --db "$1"
  expect_status 0 "$TQ" journal pack "$WORK/events.ndjson" -o "$WORK/j.tqj"
  expect_status 0 "$TQ" replay "$WORK/j.tqj" --db "$1"
}

# ---- a backlog in $WORK/g (made by `thongquan gen --out "$WORK/g"`) and its database ----

# fresh_db DIR : a new database at DIR with $WORK/g's payments and permits loaded,
# nothing replayed
fresh_db() {
  rm -rf "$1"
  "$TQ" load payments "$WORK/g/payments.csv" --db "$1" --quiet || fail "load payments"
  "$TQ" load permits "$WORK/g/permits.csv" --db "$1" --quiet || fail "load permits"
}

# export_db DIR OUT : the decisions in OUT.d, the permit use in OUT.p, and both (in that
# order) in OUT: what a replay's outcome is compared by
export_db() {
  "$TQ" export decisions --db "$1" -o "$2.d" 2>"$WORK/exp.err" || fail "export decisions of $1: $(cat "$WORK/exp.err")"
  "$TQ" export permits --db "$1" -o "$2.p" 2>"$WORK/exp.err" || fail "export permits of $1: $(cat "$WORK/exp.err")"
  cat "$2.d" "$2.p" >"$2"
}

# mark_of DIR : the last applied seq of the database's (one) journal, 0 when none; the
# database must open
mark_of() {
  local s
  s=$("$TQ" stat --db "$1" 2>"$WORK/stat.err" | sed -n 's/.*last applied seq \([0-9]*\).*/\1/p') ||
    fail "stat fails on $1: $(cat "$WORK/stat.err")"
  echo "${s:-0}"
}

# journal_cut J SEQ OUT : J cut after the frame that ends at SEQ (a valid shorter
# journal; SEQ 0 keeps only the header), what a replay committed through SEQ has read.
# Fails when no frame ends at SEQ.  Frames start at byte 64, a frame header is 40 bytes
# with first_seq (u64) at 4, count at 12 and zsize at 20 (formats/JOURNAL.md).
journal_cut() {
  local j=$1 seq=$2 off=64 size lo hi count zsize
  size=$(stat -c %s "$j")
  if [ "$seq" != 0 ]; then
    while :; do
      [ "$off" -lt "$size" ] || fail "no frame of $j ends at seq $seq: the mark is not at a frame boundary"
      read -r _ lo hi count _ zsize < <(od -An -tu4 -v -w24 -j "$off" -N 24 "$j")
      off=$((off + 40 + zsize))
      [ $((lo + hi * 4294967296 + count - 1)) -lt "$seq" ] || break
    done
    [ $((lo + hi * 4294967296 + count - 1)) = "$seq" ] || fail "mark $seq is inside a frame of $j"
  fi
  head -c "$off" "$j" >"$3"
}

# flip FILE OFFSET [MASK] : xor one byte of FILE in place with MASK (default 255: every
# bit); nothing happens past the end of the file
flip() {
  local b
  b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
  [ -n "$b" ] || return 0
  printf "$(printf '\\%03o' $((b ^ ${3:-255})))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# need_tmpfs SIZE : mount a tmpfs of SIZE (e.g. 256k) at $MNT (= $WORK/mnt), unmounted
# when the test ends; exit 77 (skipped) when it cannot be mounted (needs root)
need_tmpfs() {
  MNT=$WORK/mnt
  mkdir -p "$MNT"
  trap 'if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null; fi; rm -rf "$WORK"' EXIT
  if ! mount -t tmpfs -o size="$1" tmpfs "$MNT" 2>/dev/null; then
    echo "skipped: cannot mount a tmpfs (needs root)"
    exit 77
  fi
}
