#!/bin/bash
# Damaged streams: cut short anywhere, a bit flipped in a header, a meta
# block or a payload, random bytes, an empty file, trailing garbage.
# bs-decode, bs-reshard and bs-info exit 1 with one line (never 0), and
# write nothing: no -o file, no file in bs-reshard's folder.
. "$(dirname "$0")/../lib.sh"
mkst() { perl "$top/tests/mkst.pl" "$@"; }

# frames FILE: "offset type meta_len payload_len size" for every frame
frames() {
	perl -e '
		open my $f, "<", $ARGV[0] or die; binmode $f; local $/; my $s = <$f>;
		my $at = 0;
		while ($at + 28 <= length $s) {
			die "no sync at $at\n" unless substr($s, $at, 4) eq "\xb5BS\x1a";
			my ($t, $m, $p) = unpack("x4 C x3 V Q<", substr($s, $at, 20));
			my $n = 28 + $m + $p + 8;
			print "$at $t $m $p $n\n";
			$at += $n;
		}
		die "frames end at $at, file at " . length($s) . "\n" if $at != length $s;
	' "$1"
}
# flip FILE OFFSET BIT > OUT
flip() {
	perl -e 'local $/; binmode STDIN; binmode STDOUT; my $s = <STDIN>;
		substr($s, $ARGV[0], 1) = chr(ord(substr($s, $ARGV[0], 1)) ^ (1 << $ARGV[1]));
		print $s' "$2" "$3" < "$1"
}

# a small model: two safetensors files, several tensors, a blob; 4K chunks
M=$T/model
mkdir -p "$M"
mkst "$M/a.safetensors" "emb:BF16:2100" "norm:F32:10" "ids:U8:4500" "w:F16:300"
mkst --seed 5 "$M/b.safetensors" "x:BF16:10,30" "s:F32:"
head -c 4500 /dev/urandom > "$M/tok.bin"
echo '{"a":1}' > "$M/config.json"
bs-split -c 4096 "$M" > "$T/raw.bs"; ok $? "bs-split the test model"
bs-encode < "$T/raw.bs" > "$T/s.bs"; ok $? "bs-encode it"
bs-reshard -o "$T/good" "$T/s.bs" && diff -r "$M" "$T/good" >&2; ok $? "the undamaged stream restores the model"
rm -rf "$T/good"
frames "$T/s.bs" > "$T/frames"; ok $? "the stream is a sequence of frames"
size=$(stat -c %s "$T/s.bs")
nf=$(wc -l < "$T/frames")
nchunk=$(awk '$2 == 4' "$T/frames" | wc -l)
[ "$nchunk" -ge 6 ]; ok $? "the stream has several chunks ($nchunk chunks, $nf frames, $size bytes)"

# run3 LABEL: bs-decode (-o and stdout), bs-reshard and bs-info on $T/d.bs
# must each exit 1 with one line on stderr and leave nothing behind; the
# problems found pile up in $bad (few forks: this runs a thousand times)
shopt -s nullglob dotglob
bad=
k=0
FULL=1		# also bs-decode on stdin
run3() {
	local st lines left rd
	k=$((k + 1)); rd=$T/rd$k
	bs-decode -o "$T/dec.out" "$T/d.bs" 2> "$T/e1" > /dev/null; st=$?
	mapfile -t lines < "$T/e1"
	{ [ $st -eq 1 ] && [ ${#lines[@]} -eq 1 ] && [ ! -e "$T/dec.out" ]; } ||
	    bad="$bad [$1: bs-decode -o exit $st, ${#lines[@]} lines$([ -e "$T/dec.out" ] && echo ', out left')]"
	left=("$T"/.dec.out.*)
	[ ${#left[@]} -eq 0 ] || { bad="$bad [$1: temp file of -o left]"; rm -f "${left[@]}"; }
	rm -f "$T/dec.out"
	if [ -n "${FULL:-}" ]; then
		bs-decode < "$T/d.bs" 2> "$T/e1" > /dev/null; st=$?
		mapfile -t lines < "$T/e1"
		{ [ $st -eq 1 ] && [ ${#lines[@]} -eq 1 ]; } || bad="$bad [$1: bs-decode (stdin) exit $st, ${#lines[@]} lines]"
	fi
	bs-reshard -o "$rd" "$T/d.bs" 2> "$T/e2"; st=$?
	mapfile -t lines < "$T/e2"
	left=("$rd"/*)
	{ [ $st -eq 1 ] && [ ${#lines[@]} -eq 1 ] && [ ${#left[@]} -eq 0 ]; } ||
	    bad="$bad [$1: bs-reshard exit $st, ${#lines[@]} lines, left: ${left[*]#$rd/}]"
	bs-info "$T/d.bs" 2> "$T/e3" > /dev/null; st=$?
	mapfile -t lines < "$T/e3"
	{ [ $st -eq 1 ] && [ ${#lines[@]} -eq 1 ]; } || bad="$bad [$1: bs-info exit $st, ${#lines[@]} lines]"
}
report() {	# report DESC
	[ -z "$bad" ]; ok $? "$1"
	[ -n "$bad" ] && diag "${bad:0:1500}"
	bad=
}

# ---------------------------------------------------------------- truncation
step=37
[ -n "$BS_QUICK" ] && step=131
cuts_b=$(awk '{ print $1; if ($1 > 0) print $1 - 1; print $1 + 1; print $1 + 28 }' "$T/frames" | sort -nu)
for c in $cuts_b; do
	[ "$c" -lt "$size" ] || continue
	head -c "$c" "$T/s.bs" > "$T/d.bs"
	run3 "cut at $c"
done
report "cut at every frame boundary, one byte either side, and after each header: all three exit 1"
FULL=
for ((c = 5; c < size; c += step)); do
	head -c "$c" "$T/s.bs" > "$T/d.bs"
	run3 "cut at $c"
done
report "cut every $step bytes: all three exit 1"
for ((c = size - 100; c < size; c++)); do
	head -c "$c" "$T/s.bs" > "$T/d.bs"
	run3 "cut at $c"
done
report "cut inside the last 100 bytes: all three exit 1"
FULL=1
# the message says where
head -c $((size / 2)) "$T/s.bs" > "$T/d.bs"
bs-decode "$T/d.bs" 2>&1 >/dev/null | grep -q 'offset'; ok $? "a cut stream's message names an offset"
# a cut stream through a pipe
head -c $((size / 2)) "$T/s.bs" | bs-decode > /dev/null 2>&1; st=$?
is "$st" 1 "a cut stream on a pipe: bs-decode exits 1"
head -c $((size - 1)) "$T/s.bs" | bs-reshard -o "$T/rp" 2>/dev/null; st=$?
is "$st" 1 "a stream short of its last byte on a pipe: bs-reshard exits 1"
is "$(ls -A "$T/rp" 2>/dev/null)" "" "and leaves its folder empty"
# the raw stream too (chunks of codec none)
rsize=$(stat -c %s "$T/raw.bs")
for ((c = 3; c < rsize; c += step * 5)); do
	head -c "$c" "$T/raw.bs" > "$T/d.bs"
	run3 "raw cut at $c"
done
report "a raw stream cut short: all three exit 1"

# ---------------------------------------------------------------- bit flips
# flips in every field of the headers of a few frames of each type
nflip=0
for t in 1 2 3 4 5 6 7 8; do
	off=$(awk -v t=$t '$2 == t { print $1; exit }' "$T/frames")
	[ -n "$off" ] || continue
	for pos in 0 3 4 5 6 8 10 12 15 19 20 23 24 27; do
		flip "$T/s.bs" $((off + pos)) $((pos % 8)) > "$T/d.bs"
		run3 "type $t header byte $pos"
		bs-decode "$T/d.bs" 2>&1 >/dev/null | grep -q 'offset' || bad="$bad [type $t header byte $pos: message names no offset]"
		nflip=$((nflip + 1))
	done
done
report "a bit flipped in a frame header ($nflip places): all three exit 1, naming an offset"
# flips in meta blocks
while read -r off t m p n; do
	[ "$m" -gt 0 ] || continue
	for pos in 0 $((m / 2)) $((m - 1)); do
		flip "$T/s.bs" $((off + 28 + pos)) 1 > "$T/d.bs"
		run3 "type $t meta byte $pos at $off"
		bs-decode "$T/d.bs" 2>&1 >/dev/null | grep -q 'offset' || bad="$bad [meta at $off: message names no offset]"
	done
done < <(awk '!seen[$2]++' "$T/frames")
report "a bit flipped in a meta block of each frame type: all three exit 1, naming an offset"
# flips in payloads (chunks of each codec, FILE prefix, INDEX) and in trailers
while read -r off t m p n; do
	[ "$p" -gt 0 ] || continue
	for pos in 0 $((p / 3)) $((p - 1)); do
		flip "$T/s.bs" $((off + 28 + m + pos)) 6 > "$T/d.bs"
		run3 "type $t payload byte $pos at $off"
		bs-decode "$T/d.bs" 2>&1 >/dev/null | grep -q 'offset' || bad="$bad [payload at $off: message names no offset]"
	done
	flip "$T/s.bs" $((off + n - 1)) 0 > "$T/d.bs"
	run3 "type $t trailer at $off"
done < <(awk '$4 > 0' "$T/frames" | head -40)
report "a bit flipped in payloads and payload checksums: all three exit 1, naming an offset"

# ---------------------------------------------------------------- not streams
: > "$T/d.bs"
run3 "empty file"
report "an empty file: all three exit 1"
head -c 5000 /dev/urandom > "$T/d.bs"
run3 "random bytes"
report "5000 random bytes: all three exit 1"
head -c 27 "$T/s.bs" > "$T/d.bs"
run3 "27 bytes"
report "27 bytes of a stream: all three exit 1"
cp "$M/a.safetensors" "$T/d.bs"
run3 "a safetensors file"
report "a safetensors file given as a stream: all three exit 1"
{ cat "$T/s.bs"; printf 'x'; } > "$T/d.bs"
run3 "trailing byte"
report "a trailing garbage byte after the end record: all three exit 1"
{ cat "$T/s.bs"; head -c 64 /dev/zero; } > "$T/d.bs"
run3 "trailing zeros"
report "64 zero bytes after the end record: all three exit 1"
{ cat "$T/s.bs"; head -c 100 "$T/s.bs"; } > "$T/d.bs"
run3 "member cut after a whole one"
report "a whole member then a cut one: all three exit 1"
# the first member whole, then an END frame alone
endoff=$(awk '$2 == 8 { print $1 }' "$T/frames")
{ cat "$T/s.bs"; tail -c +$((endoff + 1)) "$T/s.bs"; } > "$T/d.bs"
run3 "END alone"
report "an END frame alone after a member: all three exit 1"
# frames out of order: a stream missing one chunk frame
cf=$(awk '$2 == 4 { n++ } $2 == 4 && n == 3 { print $1, $5 }' "$T/frames")
set -- ${cf:-0 0}
{ head -c "$1" "$T/s.bs"; tail -c +$(($1 + $2 + 1)) "$T/s.bs"; } > "$T/d.bs"
run3 "chunk missing"
report "a chunk frame left out: all three exit 1"
# a chunk frame doubled
{ head -c $(($1 + $2)) "$T/s.bs"; tail -c +$(($1 + 1)) "$T/s.bs"; } > "$T/d.bs"
run3 "chunk doubled"
report "a chunk frame doubled: all three exit 1"

# nonexistent input: exit 2
for p in bs-decode bs-info bs-encode; do
	expect_fail 2 - "$p on a nonexistent file: exit 2" -- $p "$T/nonexistent.bs"
	grep -qF nonexistent.bs "$T/stderr"; ok $? "$p on a nonexistent file: names it"
done
expect_fail 2 "$T/rn" "bs-reshard on a nonexistent file: exit 2, no folder" -- bs-reshard -o "$T/rn" "$T/nonexistent.bs"

# -o leaves nothing behind on damage
flip "$T/s.bs" $((size / 2)) 3 > "$T/damaged.bs"
expect_fail 1 "$T/out.bs" "bs-decode -o out.bs damaged.bs: exit 1, no out.bs" -- bs-decode -o "$T/out.bs" "$T/damaged.bs"
is "$(ls -A "$T" | grep -c '^\.out\.bs')" 0 "bs-decode -o: no temporary file left"
expect_fail 1 "$T/out.bs" "bs-encode -o out.bs damaged.bs: exit 1, no out.bs" -- bs-encode -o "$T/out.bs" "$T/damaged.bs"
is "$(ls -A "$T" | grep -c '^\.out\.bs')" 0 "bs-encode -o: no temporary file left"
head -c $((size - 1)) "$T/s.bs" > "$T/cut.bs"
expect_fail 1 "$T/out.bs" "bs-decode -o out.bs cut.bs: exit 1, no out.bs" -- bs-decode -o "$T/out.bs" "$T/cut.bs"
# an existing output is not clobbered by a failed run
echo keep > "$T/out.bs"
bs-decode -o "$T/out.bs" "$T/damaged.bs" 2>/dev/null
is "$(cat "$T/out.bs")" keep "a failed bs-decode -o leaves an existing file as it was"
rm -f "$T/out.bs"
# bs-reshard into a folder that holds files already: nothing added
mkdir -p "$T/full"; echo x > "$T/full/keep"
bs-reshard -o "$T/full" "$T/damaged.bs" 2>/dev/null; st=$?
is "$st" 1 "bs-reshard of a damaged stream into a used folder: exit 1"
is "$(ls -A "$T/full")" keep "and only the old file is there"

done_testing
