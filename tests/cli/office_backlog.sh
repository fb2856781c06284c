# office_backlog.sh - the small backlog test_list.sh and test_worklist.sh share: seven
# declarations over three offices (one cancelled), with permits (expired, quota,
# revoked, unknown) and payments (paid, short, a guarantee), replayed into $db.
# Sourced after lib.sh, with db set; defines decl and line for the callers' own events.
# shellcheck shell=bash
: "${db:?office_backlog.sh is sourced with db set}"
decl() { # decl NO OFFICE DECLARANT REGISTERED CHANNEL TAX LINES_JSON
  printf '{"ev":"DECL","decl_no":"%s","kind":"A11","office":"%s","declarant":"%s","registered_at":"%s","channel":%s,"tax_due":%s,"lines":%s}\n' "$@"
}
line() { printf '[{"hs":"%s","qty":%s,"value":%s%s}]' "$1" "$2" "$3" "${4:+,\"permit\":\"$4\"}"; }
{
  decl 100000000011 01B1 0101234567 2024-08-06T09:15:00+07:00 1 1000 "$(line 85171300 1 5000 GCN-1)"
  decl 100000000012 01B1 0101234567 2024-08-06T10:00:00+07:00 2 2000 "$(line 85171300 1 7000)"
  decl 100000000013 01B1 0202020202 2024-08-06T11:00:00+07:00 1 500 "$(line 85171300 1 900)"
  decl 100000000014 02C1 0202020202 2024-08-06T12:00:00+07:00 1 3000 "$(line 85171300 1 900)"
  decl 100000000015 02C1 0101234567 2024-08-07T06:30:00+07:00 1 0 "$(line 03031100 60 1000 Q-1)"
  decl 100000000016 01B1 0303030303 2024-08-07T08:00:00+07:00 1 0 "$(line 85171300 1 1000 REV-1)"
  decl 100000000017 03D1 0303030303 2024-08-07T08:30:00+07:00 1 1000 "$(line 85171300 1 1000 NONE-1)"
  echo '{"ev":"CANCEL","decl_no":"100000000017"}'
} >"$WORK/events.ndjson"
csv permits "$WORK/permits.csv" <<'EOF'
GCN-1,BCT,0101234567,2024-01-01,2024-06-30,VALID,8517,0
Q-1,BNNPTNT,0101234567,2024-01-01,2024-12-31,VALID,0303,50
REV-1,BCT,0303030303,2024-01-01,2024-12-31,REVOKED,8517,0
EOF
csv payments "$WORK/payments.csv" <<'EOF'
100000000011,KB-11,PAY,1000,
100000000012,KB-12,PAY,1500,
100000000012,BL-12,GUARANTEE,500,2024-08-31
100000000013,KB-13,PAY,500,
100000000014,KB-14,PAY,1000,
100000000014,BL-14,GUARANTEE,5000,2024-08-01
EOF
replay_backlog "$db"
