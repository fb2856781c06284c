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
