#!/bin/bash
# Run every unit test program (tests/unit/t_*.c, built into build/tests)
# and pass its TAP through as subtests.
. "$(dirname "$0")/lib.sh"
dir=${BS_UNIT:-$top/build/tests}
for t in "$dir"/t_*; do
	[ -x "$t" ] || continue
	out=$("$t" "$BS_DATA" 2>&1); st=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	ok $st "unit test $(basename "$t")"
done
# the coders again with their SIMD paths capped (BS_SIMD): every path
# must read and write the same bytes, whichever this CPU would pick
for lvl in avx2 none; do
	for t in "$dir"/t_entropy "$dir"/t_codecs; do
		[ -x "$t" ] || continue
		out=$(BS_SIMD=$lvl "$t" "$BS_DATA" 2>&1); st=$?
		[ $st = 0 ] || printf '%s\n' "$out" | sed 's/^/    /'
		ok $st "unit test $(basename "$t") with BS_SIMD=$lvl"
	done
done
done_testing
