#!/bin/bash
# The bad-input corpus: one input per way a stream or a safetensors file can
# be wrong, written at test time by tests/mkbad.c (streams, with every check
# that is not the point rebuilt) and tests/mkst.pl (safetensors files).
# Every program that reads an input refuses it: exit 1 (never 0, never a
# crash), one line on stderr naming the file, no output left behind, and no
# absurd allocation (address space capped at 512 MiB outside the sanitizer
# run).  Inputs that only decoding can find wrong are refused by the
# programs that decode.
. "$(dirname "$0")/../lib.sh"
mkst() { perl "$top/tests/mkst.pl" "$@"; }

# build the generator against the library the programs were built from
# (BS_LIB overrides: the library of the programs in BS_BIN)
build_mkbad
ok $? "tests/mkbad.c builds against the library of the programs under test"
C=$T/corpus
mkdir -p "$C"
ASAN_OPTIONS=detect_leaks=0 "$T/mkbad" "$C" 2> /dev/null
ok $? "mkbad writes the corpus"
n=$(wc -l < "$C/MANIFEST")
[ "$n" -ge 60 ]; ok $? "at least 60 bad streams ($n)"
[ "$(cut -d' ' -f1 "$C/MANIFEST" | sort -u | wc -l)" -eq "$n" ]; ok $? "each has its own name"

# the undamaged stream the cases are made from is good for every program
bs-verify -q "$C/good.bs"; ok $? "the good stream verifies"
bs-reshard -o "$T/good" "$C/good.bs"; ok $? "the good stream restores"
bs-decode "$C/good.bs" | bs-encode > /dev/null; ok $? "the good stream decodes and encodes"
bs-info "$C/good.bs" > /dev/null; ok $? "bs-info reads the good stream"
rm -rf "$T/good"

# cap memory where the sanitizer does not reserve its own address space
cap=(prlimit --as=$((512 << 20)))
[[ $(basename "$BS_BIN") == *san* ]] && cap=()
shopt -s nullglob dotglob

bad=
# refuse NAME WHAT -- command...: exit 1, one stderr line naming the input
refuse() {
	local name=$1 what=$2 st lines; shift 3
	"${cap[@]}" "$@" > "$T/out" 2> "$T/err"; st=$?
	lines=$(wc -l < "$T/err")
	if [ "$st" -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$name" "$T/err"; then
		bad="$bad [$what on $name: exit $st, $lines lines$(grep -qF -- "$name" "$T/err" || echo ', file not named')]"
		return 1
	fi
	return 0
}
# nothing NAME WHAT PATH...: none of the paths exists (or a folder is empty)
nothing() {
	local name=$1 what=$2 p left; shift 2
	for p in "$@"; do
		if [ -d "$p" ]; then
			left=("$p"/*)
			[ ${#left[@]} -eq 0 ] || bad="$bad [$what on $name: left ${left[*]##*/}]"
		elif [ -e "$p" ]; then
			bad="$bad [$what on $name: left $p]"
		fi
	done
	left=("$T"/.out.*)
	[ ${#left[@]} -eq 0 ] || { bad="$bad [$what on $name: temporary file left]"; rm -f "${left[@]}"; }
}
report() {
	[ -z "$bad" ]; ok $? "$1"
	[ -n "$bad" ] && diag "${bad:0:2000}"
	bad=
}

nframe=0
idx=0
while read -r name level what; do
	f=$C/$name.bs
	rm -rf "$T/rd" "$T/out.bs"
	idx=$((idx + 1))
	[ "$level" = frame ] && nframe=$((nframe + 1))
	# bs-verify: exit 1, a report on stdout naming the file, nothing on stderr
	"${cap[@]}" bs-verify "$f" > "$T/vout" 2> "$T/verr"; st=$?
	{ [ $st -eq 1 ] && grep -qF "$name.bs" "$T/vout" && tail -1 "$T/vout" | grep -q 'BAD' &&
	    [ ! -s "$T/verr" ]; } || bad="$bad [bs-verify on $name: exit $st]"
	"${cap[@]}" bs-verify -q "$f" > "$T/vout" 2>&1; st=$?
	{ [ $st -eq 1 ] && [ ! -s "$T/vout" ]; } || bad="$bad [bs-verify -q on $name: exit $st, or it printed]"
	# under the sanitizers (slow), the other programs see every third input
	[ -n "$BS_QUICK" ] && [ $((idx % 3)) -ne 0 ] && continue
	# the decoders
	if [ "$level" != file ]; then
		refuse "$name" bs-decode -- bs-decode -o "$T/out.bs" "$f"
		nothing "$name" bs-decode "$T/out.bs"
	fi
	refuse "$name" bs-reshard -- bs-reshard -o "$T/rd" "$f"
	nothing "$name" bs-reshard "$T/rd"
	# the readers that do not decode refuse what breaks the frames or grammar
	if [ "$level" = frame ]; then
		refuse "$name" bs-info -- bs-info "$f"
		refuse "$name" bs-encode -- bs-encode -o "$T/out.bs" "$f"
		nothing "$name" bs-encode "$T/out.bs"
		"${cap[@]}" bs-verify -q --fast "$f"; st=$?
		[ $st -eq 1 ] || bad="$bad [bs-verify --fast on $name: exit $st]"
	fi
done < "$C/MANIFEST"
report "every bad stream: bs-verify, bs-decode and bs-reshard exit 1 with one line naming the file and leave nothing; bs-info, bs-encode and bs-verify --fast too for the $nframe damaged in frames or grammar"

# the messages say where
grep -c . "$C/MANIFEST" > /dev/null
bs-decode "$C/hdr-header-check.bs" 2>&1 > /dev/null | grep -q 'offset'; ok $? "a damaged header: the message names an offset"
bs-decode "$C/size-chunk-2e60.bs" 2>&1 > /dev/null | grep -qi 'payload length'; ok $? "a chunk of 2^60 bytes: the message says the payload length is wrong"
bs-reshard -o "$T/rd" "$C/fend-sha256.bs" 2>&1 | grep -q 'SHA-256'; ok $? "a wrong FEND: bs-reshard says SHA-256"
bs-verify "$C/fend-sha256.bs" | grep -q 'SHA-256'; ok $? "a wrong FEND: bs-verify says SHA-256"
bs-verify "$C/tend-hash.bs" | grep -q "tensor 'w'.*XXH3-128"; ok $? "a wrong TEND: bs-verify names the tensor and the hash"
bs-verify "$C/zstd-short.bs" | grep -q "tensor 'w'.*zstd payload does not decode"; ok $? "a short zstd payload: bs-verify names the tensor and the codec"
rm -rf "$T/rd"

# ----------------------------------------------------------- safetensors
t() { printf '"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%s]}' "$@"; }
A=$(t a F32 2 0,8)
S=$T/st
mkdir -p "$S"
nst=0
# st NAME MKST-OPTIONS...: a safetensors file that breaks one rule
st() {
	local name=$1; shift
	mkst "$@" "$S/$name.safetensors" || bad="$bad [$name: could not make it]"
	nst=$((nst + 1))
}
st hlen-past-end --json "{}" --data 0 --hlen 1000
st hlen-over-limit --json "{}" --data 0 --hlen 100000001
st hlen-huge --json "{}" --data 0 --hlen 18446744073709551615
st hlen-zero --json "{}" --data 0 --hlen 0
st invalid-json --json "{\"a\":" --data 0
st json-trailing --json "{}}" --data 0
st invalid-utf8 --json "{\"a"$'\xff'"\":{}}" --data 0
st not-object --json "[1,2]" --data 0
st duplicate --json "{$A,$(t a F32 2 8,16)}" --data 16
st int-too-big --json "{$(t a U8 99999999999999999999 0,0)}" --data 0
st shape-overflow --json "{$(t a U8 4294967296,4294967296,16 0,0)}" --data 0
st shape-float --json "{$(t a F32 2.0 0,8)}" --data 8
st shape-negative --json "{$(t a F32 -2 0,8)}" --data 8
st rank-65 --json "{$(t a U8 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1 0,1)}" --data 1
st dtype-unknown --json "{$(t a F12 2 0,8)}" --data 8
st no-offsets --json "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}" --data 8
st unknown-field --json "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}" --data 8
st entry-not-object --json "{\"a\":[1]}" --data 0
st offsets-three --json "{$(t a F32 2 0,8,8)}" --data 8
st offsets-backwards --json "{$(t a F32 0 8,0)}" --data 8
st span-mismatch --json "{$(t a F32 2 0,12)}" --data 12
st hole --json "{$A,$(t b F32 1 12,16)}" --data 16
st overlap --json "{$(t a U8 8 0,8),$(t b U8 8 4,12)}" --data 12
st trailing-bytes --json "{$A}" --data 13
st cut-short --json "{$A,$(t b F32 2 8,16)}" --data 13
st metadata-number --json "{\"__metadata__\":{\"k\":1},$A}" --data 8
st metadata-not-object --json "{\"__metadata__\":\"x\",$A}" --data 8
st f4-odd --json "{$(t a F4 3 0,2)}" --data 2
printf 'abc' > "$S/short-file.safetensors"; nst=$((nst + 1))
report "made $nst safetensors files that each break one rule"

for f in "$S"/*.safetensors; do
	name=$(basename "$f")
	rm -f "$T/out.bs"
	refuse "$name" bs-split -- bs-split -o "$T/out.bs" "$f"
	nothing "$name" bs-split "$T/out.bs"
	# the same header carried by a stream whose checks all hold
	w=${f%.safetensors}.bs
	ASAN_OPTIONS=detect_leaks=0 "$T/mkbad" --wrap "$f" "$w" || { bad="$bad [$name: cannot wrap]"; continue; }
	wn=$(basename "$w")
	refuse "$wn" bs-decode -- bs-decode -o "$T/out.bs" "$w"
	refuse "$wn" bs-info -- bs-info "$w"
	refuse "$wn" bs-encode -- bs-encode -o "$T/out.bs" "$w"
	refuse "$wn" bs-reshard -- bs-reshard -o "$T/rd" "$w"
	nothing "$wn" "the stream readers" "$T/out.bs" "$T/rd"
	"${cap[@]}" bs-verify -q "$w"; st=$?
	[ $st -eq 1 ] || bad="$bad [bs-verify on $wn: exit $st]"
	rm -rf "$T/rd"
done
report "every bad safetensors file: bs-split exits 1 naming it, writes nothing; carried in a stream, every reader exits 1"

# the corpus as files: the generated inputs, and any kept under tests/vectors/bad
kept=("$top"/tests/vectors/bad/*)
for f in "${kept[@]}"; do
	# inputs of the fuzz targets (fuzz_<target>-*) are replayed by make fuzz-smoke
	case $(basename "$f") in *.md|*.txt|fuzz_*) continue ;; esac
	name=$(basename "$f")
	refuse "$name" bs-decode -- bs-decode -o "$T/out.bs" "$f"
	"${cap[@]}" bs-verify -q "$f"; st=$?
	[ $st -eq 1 ] || bad="$bad [bs-verify on kept $name: exit $st]"
done
report "the kept streams under tests/vectors/bad: bs-decode and bs-verify exit 1"

done_testing
