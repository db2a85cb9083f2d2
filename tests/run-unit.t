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
done_testing
