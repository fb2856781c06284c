# check_json.awk - exit 0 when the input is exactly one well-formed JSON value (RFC 8259:
# objects, arrays, strings with their escapes, numbers, true/false/null, nothing after
# it), else name the byte where it went wrong and exit 1.  Duplicate keys in one object
# are refused too.  For the CLI tests, which may not assume python3 or jq on CI:
#   awk -f check_json.awk report.json
BEGIN { s = ""; n = 0 }
{ s = s $0 "\n" }
function fail(m) {
  printf "invalid JSON at byte %d: %s (near '%s')\n", p, m, substr(s, p, 30) > "/dev/stderr"
  bad = 1
  exit 1
}
function ws() { while (p <= n && index(" \t\n\r", substr(s, p, 1))) p++ }
function value(   c) {
  ws()
  if (p > n) fail("unexpected end")
  c = substr(s, p, 1)
  if (c == "{") obj()
  else if (c == "[") arr()
  else if (c == "\"") str()
  else if (c ~ /[-0-9]/) num()
  else if (substr(s, p, 4) == "true") p += 4
  else if (substr(s, p, 5) == "false") p += 5
  else if (substr(s, p, 4) == "null") p += 4
  else fail("unexpected character")
}
# opened(end): past the opening bracket; 1 (and past end) when the container is empty
function opened(end) {
  p++
  ws()
  if (substr(s, p, 1) != end) return 0
  p++
  return 1
}
# more(end): after a member or element, 1 past a ',' (another follows), 0 past end
function more(end,   c) {
  ws()
  c = substr(s, p, 1)
  p++
  if (c == ",") return 1
  if (c == end) return 0
  p--
  fail("expected ',' or '" end "'")
}
function obj(   k, keys, start) {
  if (opened("}")) return
  do {
    ws()
    if (substr(s, p, 1) != "\"") fail("expected a key")
    start = p
    str()
    k = substr(s, start, p - start)
    if (k in keys) fail("duplicate key " k)
    keys[k] = 1
    ws()
    if (substr(s, p, 1) != ":") fail("expected ':'")
    p++
    value()
  } while (more("}"))
}
function arr() {
  if (opened("]")) return
  do value(); while (more("]"))
}
function str(   c, e) {
  p++
  while (p <= n) {
    c = substr(s, p, 1)
    if (c == "\"") { p++; return }
    if (c == "\\") {
      e = substr(s, p + 1, 1)
      if (e == "u") {
        if (substr(s, p + 2, 4) !~ /^[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]$/) fail("bad \\u escape")
        p += 6
      } else if (e != "" && index("\"\\/bfnrt", e)) p += 2
      else fail("bad escape")
    } else if (c < " ") fail("control character in a string")
    else p++
  }
  fail("unterminated string")
}
function num(   t) {
  t = substr(s, p, 64)
  if (!match(t, /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) fail("bad number")
  p += RLENGTH
  if (substr(s, p, 1) ~ /[0-9.eE+-]/) fail("bad number")
}
END {
  if (bad) exit 1
  n = length(s)
  p = 1
  value()
  ws()
  if (p <= n) fail("text after the value")
  exit 0
}
