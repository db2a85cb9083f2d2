#!/bin/bash
# Every program: --help, -h, --version, unknown options, missing values.
. "$(dirname "$0")/../lib.sh"

progs=()
for p in "$BS_BIN"/bs-*; do
	[ -x "$p" ] && progs+=("$(basename "$p")")
done
[ ${#progs[@]} -ge 5 ]; ok $? "found the programs in $BS_BIN (${#progs[@]})"

# an option of each program that takes a value (from its table)
valopt() {
	"$1" --list-options 2>/dev/null | awk -F'\t' '$3 != "flag" { print "--" $2; exit }'
}

for p in "${progs[@]}"; do
	for h in --help -h; do
		"$p" $h > "$T/out" 2> "$T/err"; st=$?
		is "$st" 0 "$p $h exits 0"
		grep -q '^usage: ' "$T/out"; ok $? "$p $h prints usage: on stdout"
		grep -q "$p" "$T/out"; ok $? "$p $h names the program"
		[ ! -s "$T/err" ]; ok $? "$p $h prints nothing on stderr"
	done
	"$p" --version > "$T/out" 2> "$T/err"; st=$?
	is "$st" 0 "$p --version exits 0"
	grep -Eq "^$p .*[0-9]+\.[0-9]+(\.[0-9]+)?" "$T/out"; ok $? "$p --version prints its name and a version"
	"$p" -V > "$T/out2" 2>/dev/null; st=$?
	is "$st" 0 "$p -V exits 0"
	cmp -s "$T/out" "$T/out2"; ok $? "$p -V prints what --version prints"

	for bad in --no-such-option -Z; do
		"$p" $bad > "$T/out" 2> "$T/err" < /dev/null; st=$?
		is "$st" 2 "$p $bad exits 2"
		[ -s "$T/err" ]; ok $? "$p $bad says why on stderr"
		grep -q -- "$bad" "$T/err"; ok $? "$p $bad: the message names the option"
		[ ! -s "$T/out" ]; ok $? "$p $bad prints nothing on stdout"
	done

	v=$(valopt "$p")
	if [ -n "$v" ]; then
		"$p" "$v" > "$T/out" 2> "$T/err" < /dev/null; st=$?
		is "$st" 2 "$p $v without its value exits 2"
		grep -q 'needs a value' "$T/err"; ok $? "$p $v without its value says so"
		[ ! -s "$T/out" ]; ok $? "$p $v without its value prints nothing on stdout"
	else
		# bs-info takes only flags: a flag given a value is misuse too
		"$p" --help=yes > "$T/out" 2> "$T/err" < /dev/null; st=$?
		is "$st" 2 "$p --help=yes (a flag with a value) exits 2"
		[ -s "$T/err" ] && [ ! -s "$T/out" ]; ok $? "$p --help=yes: message on stderr only"
	fi
done
[ "$(valopt bs-split)" = --chunk-size ]; ok $? "bs-split --list-options lists --chunk-size as taking a value"

# short options that take values, given last without one
for pv in "bs-split -c" "bs-split -o" "bs-encode -T" "bs-encode -l" "bs-decode -T" "bs-decode -o" "bs-reshard -o"; do
	set -- $pv
	"$@" > "$T/out" 2> "$T/err" < /dev/null; st=$?
	is "$st" 2 "$pv without its value exits 2"
	[ -s "$T/err" ] && [ ! -s "$T/out" ]; ok $? "$pv without its value: message on stderr only"
done

# values that are not what they should be
for bad in "bs-encode -T x" "bs-encode -l 0" "bs-encode -l 20" "bs-encode --codec nosuch" "bs-decode -T -1" "bs-split -c 100" "bs-split -c 4K1"; do
	$bad > "$T/out" 2> "$T/err" < /dev/null; st=$?
	is "$st" 2 "$bad exits 2"
	[ -s "$T/err" ] && [ ! -s "$T/out" ]; ok $? "$bad: message on stderr only"
done

# bs-reshard without -o, and extra operands
bs-reshard < /dev/null > "$T/out" 2> "$T/err"; st=$?
is "$st" 2 "bs-reshard without -o exits 2"
[ -s "$T/err" ]; ok $? "bs-reshard without -o says why"
bs-decode a b > "$T/out" 2> "$T/err" < /dev/null; st=$?
is "$st" 2 "bs-decode with two operands exits 2"
grep -q "extra operand" "$T/err"; ok $? "bs-decode with two operands says extra operand"

done_testing
