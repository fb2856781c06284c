#!/usr/bin/env bash
# test.sh - install what is missing, build, and run every test:
#   1. a warnings-as-errors build and its CTest suite (Criterion suites and CLI tests);
#   2. the same suite built with AddressSanitizer and UndefinedBehaviorSanitizer, so a
#      leak or UB in the real binary fails the CLI tests;
#   3. the replay pipeline under ThreadSanitizer (the real binary through
#      tests/cli/test_threads.sh: Criterion's own runtime does not run under TSan);
#   4. the libFuzzer targets (clang), each for TQ_FUZZ_SECONDS (default 20) from the seed
#      corpus in tests/fuzz/corpus;
#   5. the conformance cases of ../shared/conformance when they are beside the checkout,
#      with the plain and the sanitized binary.
# Ends with one line "tests: N passed, N failed"; exits non-zero when anything failed.
#   bash tools/test.sh            (TQ_FUZZ_SECONDS=0 skips fuzzing; TQ_SKIP_ASAN=1 and
#                                  TQ_SKIP_TSAN=1 the sanitizer builds)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_s=${TQ_FUZZ_SECONDS:-20}
passed=0 failed=0 skipped=0 failures=()

bash "$top/tools/setup-deps.sh" --tests || { echo "tests: 0 passed, 1 failed"; exit 1; }

# ctest_stage NAME BUILD_DIR CMAKE_ARGS... : configure, build, run CTest, count results.
ctest_stage() {
  local name=$1 dir=$2; shift 2
  echo "== $name: build ($dir)"
  if ! cmake -S "$top" -B "$dir" "$@" >"$dir.cmake.log" 2>&1 ||
     ! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
    cat "$dir.cmake.log" "$dir.build.log" 2>/dev/null | tail -40
    failed=$((failed + 1)); failures+=("$name: build"); return
  fi
  echo "== $name: ctest"
  local log="$dir/ctest.log"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 900) 2>&1 | tee "$log" | grep -E "Test +#|tests passed|Synthesis|FAIL|Failed|Error" || true
  local total bad
  total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n 1)
  bad=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n 1)
  if [ -z "$total" ]; then
    failed=$((failed + 1)); failures+=("$name: ctest did not finish"); return
  fi
  # A test that cannot run here exits 77 (SKIP_RETURN_CODE): CTest lists it as
  # "(Skipped)" and it is counted as skipped, never as passed.
  local skip
  skip=$(grep -c "(Skipped)" "$log" || true)
  passed=$((passed + total - bad - skip)); failed=$((failed + bad)); skipped=$((skipped + skip))
  [ "$bad" -eq 0 ] || failures+=("$name: $bad of $total tests")
}

mkdir -p "$top/build" "$top/build-asan" "$top/build-fuzz"
ctest_stage "release" "$top/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTQ_WERROR=ON
if [ "${TQ_SKIP_ASAN:-0}" != 1 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest_stage "asan+ubsan" "$top/build-asan" -DCMAKE_BUILD_TYPE=Debug -DTQ_SANITIZE=ON -DTQ_WERROR=ON
fi

if [ "${TQ_SKIP_TSAN:-0}" != 1 ]; then
  echo "== tsan: build and run the pipeline's thread test"
  mkdir -p "$top/build-tsan"
  if cmake -S "$top" -B "$top/build-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTQ_TSAN=ON \
       -DTQ_TESTS=OFF >"$top/build-tsan.cmake.log" 2>&1 &&
     cmake --build "$top/build-tsan" -j"$jobs" --target thongquan >"$top/build-tsan.build.log" 2>&1; then
    if TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
         bash "$top/tests/cli/test_threads.sh" "$top/build-tsan/thongquan"; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1)); failures+=("tsan: test_threads")
    fi
  else
    tail -40 "$top/build-tsan.cmake.log" "$top/build-tsan.build.log"
    failed=$((failed + 1)); failures+=("tsan: build")
  fi
fi

if [ "$fuzz_s" -gt 0 ]; then
  echo "== fuzz: build (clang, libFuzzer)"
  if CC=clang cmake -S "$top" -B "$top/build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTQ_FUZZ=ON \
       >"$top/build-fuzz.cmake.log" 2>&1 &&
     cmake --build "$top/build-fuzz" -j"$jobs" >"$top/build-fuzz.build.log" 2>&1; then
    for f in "$top"/build-fuzz/fuzz_*; do
      [ -x "$f" ] || continue
      t=$(basename "$f"); corpus_name=${t#fuzz_}
      work=$(mktemp -d); mkdir -p "$work/corpus"
      [ -d "$top/tests/fuzz/corpus/$corpus_name" ] && cp -r "$top/tests/fuzz/corpus/$corpus_name/." "$work/corpus/"
      echo "== fuzz: $t for ${fuzz_s}s"
      if (cd "$work" && "$f" -max_total_time="$fuzz_s" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$work/" corpus >"$work/log" 2>&1); then
        passed=$((passed + 1)); grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$work/log" | tail -n 1
      else
        failed=$((failed + 1)); failures+=("fuzz $t"); tail -30 "$work/log"
        mkdir -p "$top/build-fuzz/crashes" && cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$top/build-fuzz/crashes/" 2>/dev/null
      fi
      rm -rf "$work"
    done
  else
    tail -40 "$top/build-fuzz.cmake.log" "$top/build-fuzz.build.log"
    failed=$((failed + 1)); failures+=("fuzz: build")
  fi
fi

runner="$top/../shared/conformance/run.sh"
if [ -x "$runner" ] || [ -f "$runner" ]; then
  for b in "$top/build/thongquan" "$top/build-asan/thongquan"; do
    [ -x "$b" ] || continue
    echo "== conformance with $b"
    # Not `tee /dev/stderr`: when stderr is a file, Linux reopens it at offset 0 and
    # the log gets a hole of NUL bytes.
    clog=$(mktemp)
    bash "$runner" --bin "$b" >"$clog" 2>&1
    cat "$clog"
    line=$(tail -n 1 "$clog")
    rm -f "$clog"
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then failed=$((failed + 1)); failures+=("conformance: no result"); continue; fi
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" -eq 0 ] || failures+=("conformance ($b): $f cases")
  done
else
  echo "== conformance: skipped (no ../shared/conformance beside the checkout)"
fi

for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
