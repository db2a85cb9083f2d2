#!/bin/bash
# Bad safetensors files: bs-split exits 1 with one line on stderr naming
# the file and the rule broken, and writes nothing with -o (no output, no
# temporary file), whether the file is named, in a folder, or on stdin.
. "$(dirname "$0")/../lib.sh"
mkst() { perl "$top/tests/mkst.pl" "$@"; }

t() { printf '"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%s]}' "$@"; }
A=$(t a F32 2 0,8)

W=$T/w
mkdir -p "$W"
# bad NAME KEYWORD MKST-OPTIONS...: make NAME.safetensors and check bs-split
# refuses it with a message holding KEYWORD (grep -Ei)
bad() {
	local name=$1 kw=$2 f="$T/$1.safetensors"; shift 2
	mkst "$@" "$f" || { ok 1 "$name: could not make the vector"; return; }
	rm -rf "$W"; mkdir -p "$W"

	# a file named on the command line, output by rename
	expect_fail 1 "$W/out.bs" "$name: bs-split -o exits 1, one line, no out.bs" -- bs-split -o "$W/out.bs" "$f"
	grep -qF "$name.safetensors" "$T/stderr"; ok $? "$name: the message names the file"
	grep -Eqi -- "$kw" "$T/stderr"; ok $? "$name: the message says '$kw'"
	[ $? -eq 0 ] || sed 's/^/#   /' "$T/stderr"
	is "$(ls -A "$W")" "" "$name: no temporary file left in the output folder"
	rm -rf "$W"; mkdir -p "$W"

	# the same file on stdin
	expect_fail 1 "$W/out.bs" "$name: on stdin, exit 1, one line, no out.bs" -- bs-split -o "$W/out.bs" - < "$f"
	is "$(ls -A "$W")" "" "$name: on stdin, no temporary file left"
	rm -rf "$W"; mkdir -p "$W"

	# the same file in a folder, after a good one
	rm -rf "$T/m"; mkdir "$T/m"
	mkst "$T/m/a-good.safetensors" "x:F32:4"
	cp "$f" "$T/m/b-bad.safetensors"
	expect_fail 1 "$W/out.bs" "$name: in a folder, exit 1, one line, no out.bs" -- bs-split -o "$W/out.bs" "$T/m"
	grep -qF "b-bad.safetensors" "$T/stderr"; ok $? "$name: in a folder, the message names the file"
	is "$(ls -A "$W")" "" "$name: in a folder, no temporary file left"
	rm -rf "$W"; mkdir -p "$W"
}

bad hlen-past-end 'past the end' --json "{}" --data 0 --hlen 1000
bad hlen-over-limit 'limit' --json "{}" --data 0 --hlen 100000001
bad hlen-huge 'limit' --json "{}" --data 0 --hlen 18446744073709551615
bad hlen-zero 'JSON' --json "{}" --data 0 --hlen 0
bad invalid-json 'JSON' --json "{\"a\":" --data 0
bad invalid-json-trailing 'JSON' --json "{}}" --data 0
bad invalid-utf8 'JSON' --json "{\"a"$'\xff'"\":{}}" --data 0
bad not-object-array 'object' --json "[1,2]" --data 0
bad not-object-string 'object' --json "\"x\"" --data 0
bad duplicate 'duplicate' --json "{$A,$(t a F32 2 8,16)}" --data 16
bad shape-overflow 'overflow' --json "{$(t a U8 4294967296,4294967296,16 0,0)}" --data 0
bad shape-overflow-bits 'overflow' --json "{$(t a F64 2305843009213693952 0,0)}" --data 0
bad shape-float 'integer' --json "{$(t a F32 2.0 0,8)}" --data 8
bad shape-negative 'negative' --json "{$(t a F32 -2 0,8)}" --data 8
bad shape-string 'integer' --json "{$(t a F32 '"2"' 0,8)}" --data 8
bad shape-not-array 'shape' --json "{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}" --data 8
bad rank-65 'rank' --json "{$(t a U8 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1 0,1)}" --data 1
bad dtype-unknown 'dtype' --json "{$(t a F12 2 0,8)}" --data 8
bad dtype-lowercase 'dtype' --json "{$(t a f32 2 0,8)}" --data 8
bad dtype-not-string 'dtype' --json "{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}" --data 8
bad no-offsets 'data_offsets' --json "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}" --data 8
bad no-dtype 'dtype' --json "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}" --data 8
bad unknown-field 'field' --json "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}" --data 8
bad entry-not-object 'object' --json "{\"a\":[1]}" --data 0
bad offsets-three 'data_offsets' --json "{$(t a F32 2 0,8,8)}" --data 8
bad offsets-negative 'data_offsets' --json "{$(t a F32 2 -8,0)}" --data 8
bad offsets-backwards 'data_offsets' --json "{$(t a F32 0 8,0)}" --data 8
bad offsets-float 'data_offsets' --json "{$(t a F32 2 0,8.0)}" --data 8
bad span-mismatch 'span' --json "{$(t a F32 2 0,12)}" --data 12
bad span-short 'span' --json "{$(t a BF16 4 0,4)}" --data 4
bad hole 'hole' --json "{$A,$(t b F32 1 12,16)}" --data 16
bad hole-at-start 'hole' --json "{$(t a F32 2 4,12)}" --data 12
bad overlap 'overlap' --json "{$(t a U8 8 0,8),$(t b U8 8 4,12)}" --data 12
bad overlap-same 'overlap' --json "{$A,$(t b F32 2 0,8)}" --data 8
bad trailing-bytes 'belong to no tensor' --json "{$A}" --data 13
bad trailing-bytes-empty 'belong to no tensor' --json "{}" --data 1
bad cut-short 'cut short' --json "{$A,$(t b F32 2 8,16)}" --data 13
bad cut-short-all 'cut short' --json "{$A}" --data 0
bad metadata-number '__metadata__' --json "{\"__metadata__\":{\"k\":1},$A}" --data 8
bad metadata-null '__metadata__' --json "{\"__metadata__\":{\"k\":null}}" --data 0
bad metadata-not-object '__metadata__' --json "{\"__metadata__\":\"x\",$A}" --data 8
bad f4-odd 'whole' --json "{$(t a F4 3 0,2)}" --data 2
bad f6-not-whole 'whole' --json "{$(t a F6_E2M3 2,3 0,5)}" --data 5

rm -rf "$W"; mkdir -p "$W"
# short files
printf 'abc' > "$T/short.safetensors"
expect_fail 1 "$W/out.bs" "a 3-byte file: exit 1" -- bs-split -o "$W/out.bs" "$T/short.safetensors"
grep -qF short.safetensors "$T/stderr"; ok $? "a 3-byte file: the message names it"
expect_fail 1 "$W/out.bs" "3 bytes on stdin: exit 1" -- bs-split -o "$W/out.bs" < "$T/short.safetensors"
expect_fail 1 "$W/out.bs" "nothing on stdin: exit 1" -- bs-split -o "$W/out.bs" - < /dev/null
is "$(ls -A "$W")" "" "no temporary file left"

# stdout: a bad file writes no complete stream (bs-decode must refuse it)
bs-split "$T/hole.safetensors" > "$T/part.bs" 2> /dev/null; st=$?
is "$st" 1 "bad file to stdout: exit 1"
bs-decode "$T/part.bs" > /dev/null 2>&1; st=$?
[ "$st" -ne 0 ]; ok $? "what it wrote to stdout is not a valid stream (bs-decode exits $st)"

# nonexistent inputs are usage/I/O trouble, not bad data
expect_fail 2 "$W/out.bs" "nonexistent file: exit 2" -- bs-split -o "$W/out.bs" "$T/nonexistent.safetensors"
grep -qF nonexistent.safetensors "$T/stderr"; ok $? "nonexistent file: named"

done_testing
