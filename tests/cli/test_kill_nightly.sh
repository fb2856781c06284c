#!/usr/bin/env bash
# Proves: `thongquan nightly` killed with SIGKILL at any instant, then run again, ends in
# exactly the state of one uninterrupted run: nothing loaded twice (a permits file
# re-loaded after the later one that revokes some of its permits would bring them back,
# and the decisions would differ), nothing lost (every input ends in done/, none left in
# the inbox or the job's work folder), the database sound (`thongquan check`, when this
# build has it).  About 15 kills at random instants within the span a clean run takes.
source "$(dirname "$0")/lib.sh"
KILLS=${TQ_KILLS:-15}
"$TQ" gen --declarations 400 --seed 7 --out "$WORK/g" >/dev/null || fail "gen"
"$TQ" replay "$WORK/g/journal.tqj" --db "$WORK/base" --quiet || fail "replay"

# The inbox: permits-a (as generated), permits-b (a third of them revoked), payments in
# four parts; arrival order by mtime.
mkdir -p "$WORK/files"
cp "$WORK/g/permits.csv" "$WORK/files/permits-a.csv"
awk -F, -v OFS=, 'NR > 1 && NR % 3 == 0 { $6 = "REVOKED" } { print }' "$WORK/g/permits.csv" \
  >"$WORK/files/permits-b.csv"
head -n 1 "$WORK/g/payments.csv" >"$WORK/hdr"
tail -n +2 "$WORK/g/payments.csv" >"$WORK/rows"
split -n l/4 -d "$WORK/rows" "$WORK/part"
for i in 0 1 2 3; do cat "$WORK/hdr" "$WORK/part0$i" >"$WORK/files/payments-$i.csv"; done
t=0
for f in permits-a permits-b payments-0 payments-1 payments-2 payments-3; do
  t=$((t + 1)); touch -d "2024-08-06 01:0$t:00" "$WORK/files/$f.csv"
done

fresh() { # fresh DIR: the replayed database and a full inbox
  rm -rf "$1"; mkdir -p "$1/inbox"
  cp -a "$WORK/base" "$1/db"
  cp -p "$WORK/files/"*.csv "$1/inbox/"
}
run_nightly() { "$TQ" nightly --db "$1/db" --inbox "$1/inbox" --reports "$1/rep" --min-age 0 --quiet; }
state() { # state DIR: decisions and permits
  "$TQ" export decisions --db "$1/db" -o - && "$TQ" export permits --db "$1/db" -o -
}

# The clean run, timed.
fresh "$WORK/ref"
t0=$(date +%s%N)
run_nightly "$WORK/ref" >"$WORK/out" 2>"$WORK/err"
rc=$?
span_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$rc" != 0 ] && grep -q "no ledger of loaded files\|without calling before_commit" "$WORK/err"; then
  echo "skipped: this build's store or loader has no ledger yet"; exit 77
fi
[ "$rc" = 0 ] || fail "clean run exited $rc: $(cat "$WORK/err")"
state "$WORK/ref" >"$WORK/ref.state" || fail "export ref"
# A second clean run for the timing: the first pays for cold caches; kills aim within
# the shorter span.
fresh "$WORK/ref2"
t0=$(date +%s%N)
run_nightly "$WORK/ref2" >/dev/null 2>&1 || fail "second clean run"
t=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$t" -lt "$span_ms" ] && span_ms=$t
rm -rf "$WORK/ref2"
grep -q ',HELD,.*PERMIT_REVOKED' <(cat "$WORK/ref.state") || fail "the set-up revokes nothing"
echo "clean run: ${span_ms} ms"
have_check=0
"$TQ" check --db "$WORK/ref/db" >/dev/null 2>&1 && have_check=1

landed=0
for k in $(seq 1 "$KILLS"); do
  d=$WORK/k$k
  fresh "$d"
  at=$(( RANDOM % (span_ms * 9 / 10 + 1) ))    # within the span of a run, not after it
  # The program itself in the background (not a subshell around it), so the kill hits it.
  "$TQ" nightly --db "$d/db" --inbox "$d/inbox" --reports "$d/rep" --min-age 0 --quiet \
    >/dev/null 2>&1 &
  pid=$!
  sleep_us $((at * 1000))
  if kill -9 "$pid" 2>/dev/null; then
    landed=$((landed + 1))
  else
    # it had ended: on a loaded machine the timed runs can be slow, so aim earlier
    span_ms=$((span_ms * 3 / 4)); [ "$span_ms" -gt 1 ] || span_ms=1
  fi
  wait "$pid" 2>/dev/null
  # Run again until it says it is done (a run that finds the reconcile owed does it).
  for again in 1 2 3; do
    rc=0; run_nightly "$d" >"$WORK/out" 2>"$WORK/err" || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 7 ] || fail "kill $k at ${at} ms: rerun $again exited $rc: $(cat "$WORK/err")"
    [ "$rc" = 7 ] && break
  done
  no_sanitizer_report
  state "$d" >"$WORK/k.state" || fail "export k$k"
  cmp -s "$WORK/ref.state" "$WORK/k.state" \
    || fail "kill $k at ${at} ms: state differs from the clean run: $(diff "$WORK/ref.state" "$WORK/k.state" | head -5)"
  for f in "$WORK/files/"*.csv; do
    [ -f "$d/inbox/done/$(date +%F)/$(basename "$f")" ] || fail "kill $k at ${at} ms: $(basename "$f") not in done/: $(ls -R "$d/inbox")"
  done
  [ -z "$(ls "$d/inbox/.thongquan/work")" ] || fail "kill $k: left in work/"
  if [ "$have_check" = 1 ]; then
    "$TQ" check --db "$d/db" >/dev/null 2>&1 || fail "kill $k: check failed"
  fi
  ok
  rm -rf "$d"
done
echo "kills landed in a running job: $landed of $KILLS; check: $([ $have_check = 1 ] && echo used || echo 'not in this build: export equality only')"
[ "$landed" -ge $((KILLS / 3)) ] || fail "too few kills landed ($landed of $KILLS)"
done_ok
