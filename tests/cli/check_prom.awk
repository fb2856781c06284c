# check_prom.awk - exit 0 when the input is valid Prometheus text exposition format as
# node_exporter's textfile collector reads it, else print each problem and exit 1:
# "# HELP name text" and "# TYPE name gauge|counter|..." at most once per name and before
# its samples; samples "name{label="value",...} value" with legal names, escaped label
# values and a numeric value (integer, float, NaN, +Inf, -Inf); every sampled name has
# a TYPE; a family's samples together; no series twice; no blank line; a final newline.
#   awk -f check_prom.awk thongquan.prom
function fail(m) { printf "%s:%d: %s: %s\n", FILENAME, FNR, m, $0 > "/dev/stderr"; bad = 1 }
/^# HELP / {
  if ($3 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) fail("bad metric name")
  if (help[$3]++) fail("second HELP")
  if ($3 in seen) fail("HELP after the samples")
  next
}
/^# TYPE / {
  if (NF != 4 || $4 !~ /^(counter|gauge|histogram|summary|untyped)$/) fail("bad TYPE")
  if ($3 in type) fail("second TYPE")
  if ($3 in seen) fail("TYPE after the samples")
  type[$3] = $4
  next
}
/^#/ { next }
/^$/ { fail("blank line"); next }
{
  line = $0
  if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { fail("bad sample name"); next }
  name = substr(line, 1, RLENGTH)
  rest = substr(line, RLENGTH + 1)
  labels = ""
  if (substr(rest, 1, 1) == "{") {
    if (!match(rest, /^\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*,?)?\}/)) {
      fail("bad labels"); next
    }
    labels = substr(rest, 1, RLENGTH)
    rest = substr(rest, RLENGTH + 1)
  }
  if (rest !~ /^ [-+]?([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|\.[0-9]+([eE][-+]?[0-9]+)?|Inf|NaN)( -?[0-9]+)?$/) {
    fail("bad value"); next
  }
  if (!(name in type)) fail("sample without a TYPE")
  if (name != last && (name in seen)) fail("the family's samples are not together")
  if ((name labels) in series) fail("the same series twice")
  series[name labels] = 1
  seen[name] = 1
  last = name
}
END {
  if (NR == 0) { print FILENAME ": empty" > "/dev/stderr"; exit 1 }
  exit bad
}
