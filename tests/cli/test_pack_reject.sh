#!/usr/bin/env bash
# Proves (issue 10 "records lost on the way out", and one numbering): with --skip-invalid
# every bad line reaches the reject file whole -- one of 3 MiB (over the 1 MiB parse limit)
# too -- and the good ones are packed; each bad line is named by the same "line N" with or
# without --skip-invalid, and never with a seq (a rejected line is not in the journal).
# And `journal verify -q` prints nothing for a sound journal, only the error for a bad one;
# a header claiming 64 MiB frames is refused by verify and cat (exit 5) naming both sizes.
source "$(dirname "$0")/lib.sh"
{
  echo '{"ev":"CANCEL","decl_no":"100000000001"}'
  head -c 3145728 /dev/zero | tr '\0' 'y'; echo
  echo '{"ev":"CANCEL","decl_no":"100000000003","note":1}'
  echo '{"ev":"CANCEL","decl_no":"100000000004"}'
} >"$WORK/in.ndjson"
expect_status 1 "$TQ" journal pack "$WORK/in.ndjson" -o "$WORK/strict.tqj"
sed 's/^thongquan: [^:]*: //' "$WORK/err" | grep '^line' >"$WORK/strict.msg"
[ ! -e "$WORK/strict.tqj" ] || fail "strict pack wrote a journal"
expect_status 1 "$TQ" journal pack "$WORK/in.ndjson" -o "$WORK/skip.tqj" --skip-invalid "$WORK/rej.ndjson"
sed 's/^thongquan: [^:]*: //' "$WORK/err" | grep '^line' >"$WORK/skip.msg"
cmp -s "$WORK/strict.msg" "$WORK/skip.msg" || fail "the modes number bad lines differently: $(cat "$WORK/strict.msg" "$WORK/skip.msg")"
grep -q '^line 2: ' "$WORK/skip.msg" && grep -q '^line 3: ' "$WORK/skip.msg" ||
  fail "bad lines not named by line: $(cat "$WORK/skip.msg")"
grep -q 'seq' "$WORK/skip.msg" && fail "a rejected line was given a seq: $(cat "$WORK/skip.msg")"
sed -n '2,3p' "$WORK/in.ndjson" | cmp -s - "$WORK/rej.ndjson" || fail "the reject file does not hold both bad lines whole"
[ "$("$TQ" journal cat "$WORK/skip.tqj" | wc -l)" -eq 2 ] || fail "the good lines were not packed"
ok
# verify -q: nothing for a sound journal, the error alone for a bad one
expect_status 0 "$TQ" journal verify -q "$WORK/skip.tqj"
[ ! -s "$WORK/out" ] && [ ! -s "$WORK/err" ] || fail "verify -q printed: $(cat "$WORK/out" "$WORK/err")"
size=$(stat -c %s "$WORK/skip.tqj")
head -c $((size - 3)) "$WORK/skip.tqj" >"$WORK/torn.tqj"
expect_status 5 "$TQ" journal verify -q "$WORK/torn.tqj"
[ ! -s "$WORK/out" ] || fail "verify -q printed a report for a bad journal: $(cat "$WORK/out")"
grep -q "torn tail" "$WORK/err" || fail "verify -q did not say what was wrong: $(cat "$WORK/err")"
expect_status 0 "$TQ" journal verify "$WORK/skip.tqj"
grep -q "^status *ok" "$WORK/out" || fail "verify without -q prints the report"
# a header claiming 64 MiB frames (the fuzz corpus keeps one, after its mode byte)
tail -c +2 "$TOP/tests/fuzz/corpus/journal/raw_v2_header64M.bin" >"$WORK/h64.tqj"
for sub in verify cat; do
  expect_status 5 "$TQ" journal "$sub" "$WORK/h64.tqj"
  grep -q "67108864.*8388608" "$WORK/err" || fail "$sub does not name the claimed and allowed sizes: $(cat "$WORK/err")"
done
done_ok
