#!/usr/bin/env bash
# Proves: `replay --html` and `reconcile --html` write one self-contained page that a real
# browser renders -- headless Chromium takes a screenshot that is not blank (many
# colours, unlike a blank page's), its DOM has the title, the counts grouped ("15,000"
# style, equal to the summary's), the as-of time in Vietnam time and the lists with the
# CSV named for the rest -- and that asks nothing of the network: the HTML has no http,
# src= or url(, and Chromium's net log, with every host unresolvable and the proxy a
# closed port, shows no request made for the page (a canary page with one image and one
# CSS background shows that the check sees them).  A journal whose file name is markup
# and bytes that are not UTF-8 puts no element in the DOM.  A bad --as-of is a usage
# error and leaves no page.  Exits 77 when Chromium is not installed or cannot run.
source "$(dirname "$0")/lib.sh"

chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chrome" ]; then
  echo "skipped: chromium is not installed (tools/setup-deps.sh installs it)"
  exit 77
fi
command -v python3 >/dev/null || { echo "skipped: python3 is not installed"; exit 77; }

# run_chrome NAME URL ARGS... : headless, offline (no host resolves, the proxy is a closed
# port), with a net log in $WORK/NAME.net.json
run_chrome() {
  local name=$1 url=$2; shift 2
  timeout 90 "$chrome" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/chrome-$name" \
    --host-resolver-rules="MAP * ~NOTFOUND" --proxy-server="http://127.0.0.1:9" \
    --log-net-log="$WORK/$name.net.json" "$@" "$url" 2>"$WORK/$name.chrome.err"
}

# page_requests NETLOG : print the URLs requested on behalf of a page (not by the
# browser itself), other than file: and data:
page_requests() {
  python3 - "$1" <<'EOF'
import json, sys
text = open(sys.argv[1]).read().rstrip().rstrip(',')
try:
    log = json.loads(text)
except ValueError:        # a log cut at exit: close its event list
    log = json.loads(text + ']}')
names = {v: k for k, v in log['constants']['logEventTypes'].items()}
for e in log['events']:
    p = e.get('params', {})
    if names.get(e['type']) != 'URL_REQUEST_START_JOB' or 'url' not in p:
        continue
    mine = p.get('initiator') != 'not an origin' or 'file://' in p.get('network_isolation_key', '')
    if mine and not p['url'].startswith(('file:', 'data:')):
        print(p['url'])
EOF
}

# colours PNG : the number of distinct colours in a PNG (8-bit RGB or RGBA, any filter)
colours() {
  python3 - "$1" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat = 8, b''
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
assert depth == 8 and ctype in (2, 6), 'unexpected PNG format'
bpp = 3 if ctype == 2 else 4
raw, stride, prev, seen, i = zlib.decompress(idat), w * bpp, bytearray(w * bpp), set(), 0
for y in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp * 4):        # every 4th pixel is plenty
        seen.add(bytes(line[x:x + 3]))
    prev = line
print(len(seen))
EOF
}

# Can Chromium run here at all?  (A sandbox-less container without /dev/shm may not.)
printf '<!DOCTYPE html><html><head><title>blank</title></head><body></body></html>\n' >"$WORK/blank.html"
if ! run_chrome blank "file://$WORK/blank.html" --screenshot="$WORK/blank.png" \
       --window-size=1280,2000 >/dev/null || [ ! -s "$WORK/blank.png" ]; then
  echo "skipped: chromium cannot run here: $(tail -c 300 "$WORK/blank.chrome.err")"
  exit 77
fi
blank=$(colours "$WORK/blank.png") || fail "cannot read blank.png"
[ "$blank" -le 3 ] || fail "the blank page has $blank colours: the colour check is broken"
ok

# The canary: the net-log check must see a page's requests.
printf '<!DOCTYPE html><html><head><style>body{background:url(http://bg.invalid/a.png)}</style></head><body><img src="https://img.invalid/x.png"></body></html>\n' >"$WORK/canary.html"
run_chrome canary "file://$WORK/canary.html" --dump-dom >/dev/null || fail "chromium failed on the canary"
got=$(page_requests "$WORK/canary.net.json") || fail "cannot read the canary's net log"
case $got in *img.invalid*bg.invalid* | *bg.invalid*img.invalid*) ok ;;
  *) fail "the net-log check does not see the canary's requests: '$got'" ;; esac

# A small database; a journal whose name is markup (and a byte that is not UTF-8).
"$TQ" gen --declarations 2500 --seed 11 --frame-size 16384 --out "$WORK/g" >/dev/null || fail "gen"
"$TQ" load permits "$WORK/g/permits.csv" --db "$WORK/db" --quiet || fail "load permits"
"$TQ" load payments "$WORK/g/payments.csv" --db "$WORK/db" --quiet || fail "load payments"
evil=$'<img src=x onerror=alert(1)>\xff.tqj'
cp "$WORK/g/journal.tqj" "$WORK/$evil"

expect_status 2 "$TQ" replay "$WORK/$evil" --db "$WORK/db" --html "$WORK/r.html" \
  --as-of "2024-08-07 08:00"
[ ! -e "$WORK/r.html" ] || fail "a bad --as-of left a page"
ok
expect_status 2 "$TQ" replay "$WORK/$evil" --db "$WORK/db" --as-of 2024-08-07T01:00:00Z
expect_status 2 "$TQ" reconcile --db "$WORK/db" --as-of 2024-08-07T01:00:00Z
# A page that cannot be created stops the run before anything changes.
expect_status 4 "$TQ" replay "$WORK/$evil" --db "$WORK/db" --html "$WORK/no/such/dir/r.html"
grep -q "no/such/dir" "$WORK/err" || fail "the message does not name the page: $(cat "$WORK/err")"
"$TQ" stat --db "$WORK/db" >"$WORK/stat.out" || fail "stat"
grep -q "^declarations: 0" "$WORK/stat.out" || fail "the replay ran: $(cat "$WORK/stat.out")"
ok
expect_status 0 "$TQ" replay "$WORK/$evil" --db "$WORK/db" --threads 1 \
  --html "$WORK/r.html" --as-of 2024-08-07T01:00:00Z
no_sanitizer_report
cp "$WORK/out" "$WORK/replay.out"
held=$(sed -n 's/^declarations .*HELD \([0-9]*\).*/\1/p' "$WORK/replay.out")
total=$(sed -n 's/^declarations \([0-9]*\):.*/\1/p' "$WORK/replay.out")
[ -n "$held" ] && [ -n "$total" ] || fail "no counts in the summary: $(cat "$WORK/replay.out")"
held_g=$(python3 -c "import sys; print(f'{int(sys.argv[1]):,}')" "$held")
total_g=$(python3 -c "import sys; print(f'{int(sys.argv[1]):,}')" "$total")

# No network in the file itself: nothing but inline CSS and SVG, no script.  (The file
# name's text may say "src=", escaped; the markup may not.)
static_check() {
  python3 - "$1" <<'EOF'
import sys
from html.parser import HTMLParser
bad = []
class P(HTMLParser):
    style = 0
    def handle_starttag(self, tag, attrs):
        if tag in ('script', 'link', 'img', 'iframe', 'object', 'embed', 'image', 'use',
                   'audio', 'video', 'source', 'base', 'form', 'a'):
            bad.append('<%s>' % tag)
        for k, v in attrs:
            v = (v or '').lower()
            if k in ('src', 'href', 'xlink:href', 'srcset', 'action', 'poster', 'data') or \
               k.startswith('on') or 'url(' in v or 'http' in v:
                bad.append('%s="%s"' % (k, v))
        self.style = tag == 'style'
    def handle_endtag(self, tag): self.style = 0
    def handle_data(self, d):
        if self.style and ('url(' in d or '@import' in d or 'http' in d or '@font-face' in d):
            bad.append('style: ' + d[:80])
P().feed(open(sys.argv[1], encoding='utf-8').read())
print(' '.join(bad))
EOF
}
[ -z "$(static_check "$WORK/r.html")" ] || fail "the page fetches or runs: $(static_check "$WORK/r.html")"
ok

# Rendered: a screenshot with many colours; the DOM with title, counts, time.
run_chrome page "file://$WORK/r.html" --screenshot="$WORK/r.png" --window-size=1280,2000 \
  >/dev/null || fail "chromium failed on the page: $(tail -c 300 "$WORK/page.chrome.err")"
n=$(colours "$WORK/r.png") || fail "cannot read the screenshot"
[ "$n" -ge 12 ] || fail "the screenshot looks blank: $n colours"
ok
[ -z "$(page_requests "$WORK/page.net.json")" ] || fail "the page made requests: $(page_requests "$WORK/page.net.json")"
ok
run_chrome dom "file://$WORK/r.html" --dump-dom >"$WORK/dom.html" || fail "chromium --dump-dom failed"
[ -z "$(page_requests "$WORK/dom.net.json")" ] || fail "the page made requests"
ok
python3 - "$WORK/dom.html" "$held_g" "$total_g" <<'EOF' || fail "the DOM is not as expected"
import sys
from html.parser import HTMLParser
dom, held, total = open(sys.argv[1], encoding='utf-8').read(), sys.argv[2], sys.argv[3]
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.tags, self.title, self.intitle, self.text = [], '', 0, []
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag); self.intitle = tag == 'title'
    def handle_endtag(self, tag): self.intitle = 0
    def handle_data(self, d):
        self.text.append(d)
        if self.intitle: self.title += d
p = P(); p.feed(dom)
text = ' '.join(p.text)
want = 'Replay of '
assert p.title.startswith(want) and p.title.endswith('<img src=x onerror=alert(1)>\ufffd.tqj'), p.title
assert 'img' not in p.tags and 'script' not in p.tags, 'markup from a file name: %s' % set(p.tags)
for s in ('Declarations by state', 'Held by reason', 'Held per office',
          'Held: time since registration', 'Throughput per batch',
          'As of 2024-08-07 08:00:00 +07:00'):
    assert s in text, 'missing: ' + s
assert total in text and held in text, 'counts %s / %s missing' % (total, held)
assert ',' in total, 'not grouped: ' + total
assert 'svg' in p.tags
EOF
ok

# reconcile --html: the lists, their first 50 rows and the CSV that has the rest (72
# payments for declarations nobody declared make one list longer than a page).
{
  echo 'decl_no,receipt_no,kind,amount,valid_until'
  for i in $(seq 10 81); do echo "9000000000$i,UNK-$i,PAY,1250000,"; done
} >"$WORK/unknown.csv"
"$TQ" load payments "$WORK/unknown.csv" --db "$WORK/db" --quiet || fail "load unknown.csv"
expect_status 0 "$TQ" reconcile --db "$WORK/db" --csv "$WORK/lists" --html "$WORK/rec.html" \
  --as-of 2024-08-07T08:00:00+07:00
no_sanitizer_report
[ -z "$(static_check "$WORK/rec.html")" ] || fail "the reconcile page fetches or runs"
ok
run_chrome rec "file://$WORK/rec.html" --dump-dom >"$WORK/rec.dom" || fail "chromium failed on rec.html"
[ -z "$(page_requests "$WORK/rec.net.json")" ] || fail "the reconcile page made requests"
for s in 'Reconcile of' 'Manual clearances with discrepancies' 'Refund candidates' \
         'Payments for unknown declarations' 'Cleared now'; do
  grep -qF "$s" "$WORK/rec.dom" || fail "reconcile page: no '$s'"
  ok
done
for csv in manual_with_discrepancies overpaid_cleared payments_for_unknown_declarations cleared_now; do
  rows=$(($(wc -l <"$WORK/lists/$csv.csv") - 1))
  [ "$csv" != payments_for_unknown_declarations ] || [ "$rows" -ge 72 ] ||
    fail "$csv has $rows rows, wanted 72 or more"
  if [ "$rows" -gt 50 ]; then
    grep -qF "the whole list: <b>$WORK/lists/$csv.csv</b>" "$WORK/rec.dom" ||
      fail "$csv has $rows rows but the page does not name the CSV"
    shown=$(python3 -c "import sys; print(f'{int(sys.argv[1]):,}')" "$rows")
    grep -qF "The first 50 of $shown are shown" "$WORK/rec.dom" || fail "$csv: no 'first 50 of $shown'"
    ok
  fi
done
done_ok
