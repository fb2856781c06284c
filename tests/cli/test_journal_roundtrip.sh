#!/usr/bin/env bash
# Proves: pack then cat gives back every event of every valid conformance case, byte for
# byte once "seq" is removed, and cat's output packs again to the same events; pack
# refuses each bad events file with status 1 and a message naming the line and field,
# writing nothing.
source "$(dirname "$0")/lib.sh"
need_shared
for c in "$SHARED"/conformance/cases/*/; do
  name=$(basename "$c")
  if grep -q '"exit": 0' "$c/expect.json"; then
    rm -f "$WORK/j.tqj" "$WORK/j2.tqj"   # pack never replaces a journal without --force
    expect_status 0 "$TQ" journal pack "$c/events.ndjson" -o "$WORK/j.tqj" --quiet
    no_sanitizer_report
    "$TQ" journal cat "$WORK/j.tqj" >"$WORK/cat.ndjson" || fail "$name: cat failed"
    sed 's/^{"seq":[0-9]*,/{/' "$WORK/cat.ndjson" | cmp -s - "$c/events.ndjson" ||
      fail "$name: cat does not give back the events"
    ok
    expect_status 0 "$TQ" journal pack "$WORK/cat.ndjson" -o "$WORK/j2.tqj" --quiet
    "$TQ" journal cat "$WORK/j2.tqj" | cmp -s - "$WORK/cat.ndjson" ||
      fail "$name: cat output does not pack back to the same events"
    ok
  elif grep -q '"bad_file": "events.ndjson"' "$c/expect.json"; then
    line=$(sed -n 's/^ *"line": \([0-9]*\),*$/\1/p' "$c/expect.json")
    field=$(sed -n 's/^ *"field": "\([^"]*\)",*$/\1/p' "$c/expect.json")
    rm -f "$WORK/bad.tqj"
    expect_status 1 "$TQ" journal pack "$c/events.ndjson" -o "$WORK/bad.tqj"
    no_sanitizer_report
    grep -qE "line $line([^0-9]|$)" "$WORK/err" || fail "$name: message does not name line $line: $(cat "$WORK/err")"
    grep -qF "field '$field'" "$WORK/err" || fail "$name: message does not name field $field: $(cat "$WORK/err")"
    [ ! -e "$WORK/bad.tqj" ] || fail "$name: a journal was written despite bad input"
    ls "$WORK"/bad.tqj.tmp.* "$WORK"/.bad.tqj.tmp* "$WORK"/bad.tqj.lock >/dev/null 2>&1 &&
      fail "$name: a temporary file was left behind"
    ok
  fi
done
# --skip-invalid packs the good lines and writes the bad ones, unchanged, to the file
c="$SHARED/conformance/cases/bad_unknown_field"
expect_status 1 "$TQ" journal pack "$c/events.ndjson" -o "$WORK/skip.tqj" --skip-invalid "$WORK/rej.ndjson"
[ "$(wc -l <"$WORK/rej.ndjson")" -eq 1 ] || fail "skip-invalid: wanted one rejected line"
grep -q '"note"' "$WORK/rej.ndjson" || fail "skip-invalid: the rejected line is not the bad one"
total=$(wc -l <"$c/events.ndjson")
[ "$("$TQ" journal cat "$WORK/skip.tqj" | wc -l)" -eq $((total - 1)) ] || fail "skip-invalid: good lines missing"
ok
# --append continues the seq of an existing journal and keeps its id
c="$SHARED/conformance/cases/green_clear_basic"
"$TQ" journal pack "$c/events.ndjson" -o "$WORK/a.tqj" --quiet || fail "pack"
id1=$("$TQ" journal verify "$WORK/a.tqj" | sed -n 's/^id *//p')
expect_status 0 "$TQ" journal pack "$c/events.ndjson" -o "$WORK/a.tqj" --append --quiet
id2=$("$TQ" journal verify "$WORK/a.tqj" | sed -n 's/^id *//p')
[ "$id1" = "$id2" ] || fail "append changed the journal id"
"$TQ" journal cat "$WORK/a.tqj" | sed -n 's/^{"seq":\([0-9]*\),.*/\1/p' | tr '\n' ' ' | grep -q "^1 2 3 4 $" ||
  fail "append did not continue the seq"
ok
# stdin works as '-'
"$TQ" journal pack - -o "$WORK/stdin.tqj" --quiet <"$c/events.ndjson" || fail "pack from stdin"
"$TQ" journal cat "$WORK/stdin.tqj" | sed 's/^{"seq":[0-9]*,/{/' | cmp -s - "$c/events.ndjson" || fail "stdin round trip"
ok
done_ok
