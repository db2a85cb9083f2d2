# tests/lib.sh - TAP helpers for tests/cli/*.t (bash).  Source it first.
#   BS_BIN   folder of the programs (default bin)
#   BS_DATA  the real weights (default ../shared/data)
#   BS_QUICK set in the sanitizer run: tests may use smaller inputs
set -u
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BS_BIN=$(cd "$top" && cd "${BS_BIN:-bin}" && pwd)
BS_DATA=${BS_DATA:-$top/../shared/data}
BS_QUICK=${BS_QUICK:-}
PATH=$BS_BIN:$PATH
export BS_BIN BS_DATA BS_QUICK PATH
T=$(mktemp -d "${TMPDIR:-/tmp}/bs-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
_n=0
_fail=0

plan() { echo "1..$1"; }
ok() {	# ok CONDITION-STATUS DESCRIPTION
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $_n - $2"; else echo "not ok $_n - $2"; _fail=1; fi
}
# is GOT WANT DESCRIPTION
is() {
	_n=$((_n + 1))
	if [ "$1" = "$2" ]; then echo "ok $_n - $3"
	else echo "not ok $_n - $3"; echo "#   got:  '$1'"; echo "#   want: '$2'"; _fail=1; fi
}
diag() { echo "# $*"; }
done_testing() { echo "1..$_n"; exit $_fail; }

# build_mkbad: build tests/mkbad.c (the bad-stream generator) into $T/mkbad
# against the library the programs under test were built from (BS_LIB
# overrides); returns the compiler's status.
build_mkbad() {
	local lib=$top/build/libcommon.a san= libs
	if [[ $(basename "$BS_BIN") == *san* ]]; then
		lib=$top/build-san/libcommon.a
		san="-fsanitize=address,undefined"
	fi
	lib=${BS_LIB:-$lib}
	libs=$(pkg-config --libs libzstd libxxhash jansson libcrypto 2>/dev/null || echo -lzstd -lxxhash -ljansson -lcrypto)
	# shellcheck disable=SC2086
	cc -D_GNU_SOURCE -I"$top/libcommon" $san -o "$T/mkbad" "$top/tests/mkbad.c" "$lib" $libs -lpthread -lm
}

# expect_fail STATUS OUTPUT-FILE DESCRIPTION -- command...
# runs the command, checks its exit status, that stderr is one line naming
# something, and that OUTPUT-FILE (if not -) was not left behind.
expect_fail() {
	local want=$1 out=$2 desc=$3; shift 4
	local st
	"$@" > "$T/stdout" 2> "$T/stderr"; st=$?
	_n=$((_n + 1))
	local lines; lines=$(wc -l < "$T/stderr")
	if [ "$st" -eq "$want" ] && [ "$lines" -eq 1 ] && { [ "$out" = - ] || [ ! -e "$out" ]; }; then
		echo "ok $_n - $desc"
	else
		echo "not ok $_n - $desc (status $st, want $want; $lines stderr lines)"
		sed 's/^/#   /' "$T/stderr" | head -5
		_fail=1
	fi
}
