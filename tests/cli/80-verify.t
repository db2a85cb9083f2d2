#!/bin/bash
# bs-verify: good streams of every kind pass; damage is reported one line
# per problem and checking goes on after it; --fast, --sample, --against,
# --base, --tee (a pass-through that holds back the end of a bad stream),
# -q, -T, write errors under --tee, usage errors.
. "$(dirname "$0")/../lib.sh"
mkst() { perl "$top/tests/mkst.pl" "$@"; }
flip() {	# flip FILE OFFSET BIT > OUT
	perl -e 'local $/; binmode STDIN; binmode STDOUT; my $s = <STDIN>;
		substr($s, $ARGV[0], 1) = chr(ord(substr($s, $ARGV[0], 1)) ^ (1 << $ARGV[1]));
		print $s' "$2" "$3" < "$1"
}
# frame offsets of type T (the Nth, from 1) in FILE
frame_at() {
	perl -e '
		open my $f, "<", $ARGV[0] or die; binmode $f; local $/; my $s = <$f>;
		my ($at, $n) = (0, 0);
		while ($at + 28 <= length $s) {
			my ($t, $m, $p) = unpack("x4 C x3 V Q<", substr($s, $at, 20));
			if ($t == $ARGV[1] && ++$n == $ARGV[2]) { print "$at\n"; exit }
			$at += 28 + $m + $p + 8;
		}' "$@"
}
build_mkbad
ok $? "tests/mkbad.c builds"

# a small model: two safetensors files and two blobs, 4K chunks
M=$T/model
mkdir -p "$M/sub"
mkst "$M/a.safetensors" "emb:BF16:2100" "norm:F32:10" "ids:U8:4500" "w:F16:300"
mkst --seed 5 "$M/sub/b.safetensors" "x:BF16:10,300" "s:F32:"
head -c 4500 /dev/urandom > "$M/tok.bin"
echo '{"a":1}' > "$M/config.json"
bs-split -c 4096 "$M" > "$T/raw.bs"; ok $? "bs-split the test model"
bs-encode < "$T/raw.bs" > "$T/s.bs"; ok $? "bs-encode it"

# ------------------------------------------------------------ good streams
v() {	# v ARGS...: run bs-verify, report in $T/rep, stderr in $T/err
	bs-verify "$@" > "$T/rep" 2> "$T/err"
}
v "$T/s.bs"; st=$?
is "$st" 0 "an encoded stream verifies: exit 0"
is "$(tail -1 "$T/rep")" "$T/s.bs: OK" "the report ends with OK, naming the file"
grep -q "6 tensors and 2 blobs: 8 ok, 0 bad; 4 files: 4 ok, 0 bad" "$T/rep"; ok $? "the summary counts 6 tensors, 2 blobs and 4 files, all checked"
[ ! -s "$T/err" ]; ok $? "nothing on stderr"
v "$T/raw.bs"; is $? 0 "a raw stream verifies"
v < "$T/s.bs"; is $? 0 "a stream on stdin verifies"
grep -q '^<stdin>: OK' "$T/rep"; ok $? "stdin is named <stdin>"
cat "$T/s.bs" "$T/raw.bs" "$T/s.bs" > "$T/cat.bs"
v "$T/cat.bs"; is $? 0 "three concatenated members verify"
grep -q "18 tensors and 6 blobs: 24 ok" "$T/rep"; ok $? "all 24 tensors and blobs of the three members are counted"
ASAN_OPTIONS=detect_leaks=0 "$T/mkbad" --parity "$T/s.bs" "$T/par.bs"; ok $? "mkbad adds a PARITY and an unknown skippable frame"
v "$T/par.bs"; is $? 0 "a stream with PARITY and unknown skippable frames verifies"
for n in 1 3; do
	v -T $n "$T/s.bs"; is $? 0 "-T $n: exit 0"
	sed 's/; [0-9.]* s$//' "$T/rep" > "$T/rep$n"
done
cmp -s "$T/rep1" "$T/rep3"; ok $? "-T 1 and -T 3 report the same"

# --fast and --sample
v --fast "$T/s.bs"; is $? 0 "--fast: exit 0"
grep -q "8 ok (8 with payload checks only)" "$T/rep"; ok $? "--fast: every tensor had payload checks only"
C=$T/corpus
mkdir -p "$C"
ASAN_OPTIONS=detect_leaks=0 "$T/mkbad" "$C" 2> /dev/null; ok $? "mkbad writes its streams"
v --fast "$C/tend-hash.bs"; is $? 0 "--fast does not decode: a wrong TEND hash passes"
v "$C/tend-hash.bs"; is $? 1 "the full check finds the wrong TEND hash"
# 3 tensors; the damaged one is the first: -n 1 samples the last when the
# input can seek, the first on a pipe
v -n 1 "$C/tend-hash.bs"; is $? 0 "-n 1 on a file samples another tensor than the damaged first"
grep -q "3 ok (2 with payload checks only)" "$T/rep"; ok $? "-n 1: one tensor decoded, two with payload checks"
v -n 1 < "$C/tend-hash.bs"; is $? 0 "-n 1 from a redirected file seeks too"
cat "$C/tend-hash.bs" | v -n 1; is $? 1 "-n 1 on a pipe decodes the first tensor, the damaged one"
v -n 3 "$C/tend-hash.bs"; is $? 1 "-n 3 decodes all three"
v -n 0 "$C/zstd-short.bs"; is $? 0 "-n 0 decodes nothing"

# -q
bs-verify -q "$T/s.bs" > "$T/rep" 2>&1; st=$?
is "$st:$(wc -c < "$T/rep")" "0:0" "-q on a good stream: exit 0, prints nothing"
bs-verify -q "$C/tend-hash.bs" > "$T/rep" 2>&1; st=$?
is "$st:$(wc -c < "$T/rep")" "1:0" "-q on a bad stream: exit 1, prints nothing"

# ------------------------------------------------------------ damage
size=$(stat -c %s "$T/s.bs")
c1=$(frame_at "$T/s.bs" 4 2)	# second chunk of the stream: in a.safetensors
flip "$T/s.bs" $((c1 + 50)) 2 > "$T/d.bs"
v "$T/d.bs"; is $? 1 "a flipped payload bit: exit 1"
grep -q "frame [0-9]* (CHUNK) at offset $c1: payload checksum mismatch (in tensor 'emb' of 'a.safetensors')" "$T/rep"
ok $? "the problem line names the frame, its offset, the tensor and the file"
grep -q "skipped [0-9]* bytes from offset $c1, resuming at offset" "$T/rep"; ok $? "a line says what was skipped"
grep -q "6 tensors and 2 blobs: 7 ok, 1 bad; 4 files: 3 ok, 1 bad" "$T/rep"; ok $? "checking went on: the other 7 tensors and blobs and 3 files checked"
grep -q "BAD: 1 problem$" "$T/rep"; ok $? "one problem"
# a damaged header: resynchronisation at the next sync marker
flip "$T/s.bs" $((c1 + 25)) 0 > "$T/d.bs"
v "$T/d.bs"; is $? 1 "a flipped header-check bit: exit 1"
grep -q "at offset $c1: frame header checksum mismatch" "$T/rep"; ok $? "the header damage is reported at its frame"
grep -q "6 tensors and 2 blobs: 7 ok, 1 bad" "$T/rep"; ok $? "and the rest is checked"
# a damaged FILE or TENSOR frame: the record it starts is lost, and counted
# bad, so ok + bad is still all the stream holds
fr=$(frame_at "$T/s.bs" 2 1)	# the first FILE frame
flip "$T/s.bs" $((fr + 40)) 1 > "$T/d.bs"
v "$T/d.bs"; is $? 1 "a damaged FILE frame: exit 1"
grep -q "; 4 files: 3 ok, 1 bad;" "$T/rep"; ok $? "... its file counts bad, not gone"
# records() prints ok + bad of the tensors and blobs in the summary
records() { sed -n 's/.*blobs*: \([0-9]*\) ok, \([0-9]*\) bad;.*/\1 \2/p' "$T/rep" | { read -r o b; echo $((o + b)); }; }
is "$(records)" 8 "... and every record is counted, ok or bad"
tr=$(frame_at "$T/s.bs" 3 2)	# the second TENSOR frame
flip "$T/s.bs" $((tr + 40)) 1 > "$T/d.bs"
v "$T/d.bs"; is $? 1 "a damaged TENSOR frame: exit 1"
[ "$(records)" = 8 ] && grep -q "blobs*: [0-9]* ok, [1-9] bad;" "$T/rep"
ok $? "... its tensor counts bad, not gone"
# two damages far apart: two problems, both found
c2=$(frame_at "$T/s.bs" 4 9)	# the 9th chunk: in sub/b.safetensors
flip "$T/s.bs" $((c1 + 50)) 2 > "$T/d1.bs"
flip "$T/d1.bs" $((c2 + 50)) 5 > "$T/d.bs"
v "$T/d.bs"; is $? 1 "two damaged chunks: exit 1"
is "$(grep -c 'payload checksum mismatch' "$T/rep")" 2 "both are reported"
# bytes cut out of the middle
{ head -c $((c1 + 10)) "$T/s.bs"; tail -c +$((c1 + 300)) "$T/s.bs"; } > "$T/d.bs"
v "$T/d.bs"; is $? 1 "290 bytes cut out of the middle: exit 1"
grep -q "resuming at offset" "$T/rep"; ok $? "resumes after the hole"
grep -Eq "6 tensors and 2 blobs: 7 ok, 1 bad|(tensors|blobs?): [1-7] ok" "$T/rep"; ok $? "checks what follows"
# a stream cut short
head -c $((size - 10)) "$T/s.bs" > "$T/d.bs"
v "$T/d.bs"; is $? 1 "a stream cut short: exit 1"
grep -q "unexpected end of stream" "$T/rep"; ok $? "says unexpected end of stream"
# garbage between two members
{ cat "$T/s.bs"; head -c 3000 /dev/urandom; cat "$T/s.bs"; } > "$T/d.bs"
v "$T/d.bs"; is $? 1 "garbage between two members: exit 1"
grep -q "12 tensors and 4 blobs: 16 ok" "$T/rep"; ok $? "both members are checked"
# a second member cut, then a whole one
{ cat "$T/s.bs"; head -c 5000 "$T/s.bs"; cat "$T/s.bs"; } > "$T/d.bs"
v "$T/d.bs"; is $? 1 "a member cut short inside a concatenation: exit 1"
grep -q "4 files: 4 ok" "$T/rep" || grep -q "files: [89] ok" "$T/rep"; ok $? "the whole members are checked"
# random bytes
head -c 20000 /dev/urandom > "$T/d.bs"
v "$T/d.bs"; is $? 1 "random bytes: exit 1"
grep -q "BAD" "$T/rep"; ok $? "random bytes: BAD"
: > "$T/d.bs"
v "$T/d.bs"; is $? 1 "an empty input: exit 1"

# ------------------------------------------------------------ --against
v -a "$M" "$T/s.bs"; is $? 0 "--against the model folder: exit 0"
grep -q "against .*: 0 tensors and 0 files differ" "$T/rep"; ok $? "the summary says nothing differs"
v -a "$M/a.safetensors" "$C/good.bs"; is $? 1 "--against another file: exit 1"
cp -r "$M" "$T/m2"
mkst --seed 9 "$T/m2/a.safetensors" "emb:BF16:2100" "norm:F32:10" "ids:U8:4500" "w:F16:300"
rm "$T/m2/config.json"
echo extra > "$T/m2/extra.txt"
v -a "$T/m2" "$T/s.bs"; is $? 1 "--against a changed folder: exit 1"
grep -q "tensor 'emb' of 'a.safetensors' differs from the original" "$T/rep"; ok $? "a tensor that differs is named"
grep -q "file 'a.safetensors' differs from the original" "$T/rep"; ok $? "a file that differs is named"
grep -q "file 'config.json' is extra" "$T/rep"; ok $? "a file the originals lack is extra"
grep -q "file 'extra.txt' of .* is missing from the stream" "$T/rep"; ok $? "a file the stream lacks is missing"
grep -Eq "against .*: [1-9][0-9]* tensors? and 3 files differ" "$T/rep"; ok $? "the summary counts the differences (a verdict of BAD never follows a clean count)"
cp -r "$M" "$T/m3"; echo '{"a":2}' > "$T/m3/config.json"
v -a "$T/m3" "$T/s.bs"; is $? 1 "--against a folder with a changed blob: exit 1"
grep -q "against .*: 0 tensors and 1 file differ" "$T/rep" && grep -q "BAD: 1 problem$" "$T/rep"
ok $? "... one file differs, the blob is not counted again as a tensor"
mkst "$T/one.safetensors" "p:F32:4" "q:F32:4"
mkst "$T/two.safetensors" "p:F32:4"
bs-split "$T/two.safetensors" > "$T/two.bs"
cp "$T/one.safetensors" "$T/o/two.safetensors" 2>/dev/null || { mkdir -p "$T/o"; cp "$T/one.safetensors" "$T/o/two.safetensors"; }
v -a "$T/o/two.safetensors" "$T/two.bs"; is $? 1 "--against a file with one tensor more: exit 1"
grep -q "tensor 'q' of the original is missing" "$T/rep"; ok $? "the tensor missing from the stream is named"
v -a "$T/nonexistent" "$T/s.bs"; is $? 2 "--against a path that does not exist: exit 2"

# ------------------------------------------------------------ delta, --base
if [ -d "$BS_DATA/models/stories260k" ] && [ -d "$BS_DATA/models/stories260k-ft" ]; then
	B=$BS_DATA/models/stories260k
	FT=$BS_DATA/models/stories260k-ft
	bs-split "$FT" | bs-delta --base "$B" | bs-encode > "$T/p.bs"; ok $? "a delta stream of the fine-tune against its base"
	v "$T/p.bs"; is $? 0 "the delta stream verifies without its base"
	grep -q "delta tensors: residuals checked; the rebuilt tensors are not checked without --base" "$T/rep"
	ok $? "and says that the rebuilt tensors are not checked without --base"
	v -b "$B" "$T/p.bs"; is $? 0 "--base: the rebuilt tensors check out"
	grep -q "delta tensors" "$T/rep"; [ $? -ne 0 ]; ok $? "--base: no delta tensor is left unchecked"
	v -b "$B" -a "$FT" "$T/p.bs"; is $? 0 "--base and --against the fine-tune: exit 0"
	v -b "$FT" "$T/p.bs"; is $? 1 "--base with the wrong base: exit 1"
	grep -q "is not the one the delta was made against" "$T/rep"; ok $? "the wrong base is named"
	bs-split "$B" | bs-encode > "$T/base.bs"
	v -a "$B" "$T/base.bs"; is $? 0 "the real base model verifies against its folder"
else
	diag "no stories260k models under $BS_DATA: delta tests skipped"
fi

# ------------------------------------------------------------ --tee
bs-verify --tee "$T/s.bs" > "$T/tee.out" 2> "$T/err"; st=$?
is "$st" 0 "--tee on a good stream: exit 0"
cmp -s "$T/tee.out" "$T/s.bs"; ok $? "--tee passes the stream through unchanged"
grep -q "OK" "$T/err"; ok $? "--tee: the report is on stderr"
bs-verify --tee < "$T/s.bs" 2> /dev/null | bs-decode | bs-reshard -o "$T/rt"; ok $? "bs-verify --tee | bs-decode | bs-reshard"
diff -r "$M" "$T/rt" > /dev/null; ok $? "the model comes out whole"
flip "$T/s.bs" $((c1 + 50)) 2 > "$T/d.bs"
bs-verify --tee "$T/d.bs" > "$T/tee.out" 2> "$T/err"; st=$?
is "$st" 1 "--tee on a bad stream: exit 1"
[ "$(stat -c %s "$T/tee.out")" -lt "$size" ]; ok $? "--tee on a bad stream: the end is held back"
bs-decode < "$T/tee.out" > /dev/null 2>&1; is $? 1 "what --tee let through of a bad stream is refused downstream"
bs-verify -q --tee "$T/d.bs" 2> "$T/err" | bs-reshard -o "$T/rt2" 2> /dev/null
is "${PIPESTATUS[0]}:${PIPESTATUS[1]}" "1:1" "bs-verify --tee | bs-reshard on a bad stream: both exit 1"
is "$(ls -A "$T/rt2" 2>/dev/null)" "" "and no file appears"
# junk after a whole stream, the size of the bytes held back: the copy
# still ends cut short
{ cat "$T/s.bs"; head -c 84 /dev/zero; } > "$T/junk.bs"
bs-verify -t "$T/junk.bs" 2> /dev/null | bs-decode > /dev/null 2>&1
is "${PIPESTATUS[0]}:${PIPESTATUS[1]}" "1:1" "--tee, junk after the end record: both exit 1"
# the input as output would never end; a closed standard input fails
cp "$T/s.bs" "$T/self.bs"
timeout 60 bs-verify -t "$T/self.bs" >> "$T/self.bs" 2> "$T/err"; st=$?
is "$st" 2 "--tee onto its own input: refused (exit 2)"
grep -q "input is output" "$T/err"; ok $? "... saying input is output"
cmp -s "$T/self.bs" "$T/s.bs"; ok $? "... and the file is unchanged"
timeout 60 bs-verify -t <&- > /dev/null 2> "$T/err"; st=$?
is "$st" 2 "--tee with standard input closed: exit 2, no hang"
grep -q "Bad file descriptor" "$T/err"; ok $? "... saying why"
timeout 60 bs-delta --base "$T/s.bs" <&- > /dev/null 2> "$T/err"; st=$?
is "$st" 2 "bs-delta with standard input closed: exit 2 (the base does not take its place)"
# write errors
bs-verify -t "$T/s.bs" > /dev/full 2> "$T/err"; st=$?
is "$st" 2 "--tee to /dev/full: exit 2"
grep -q "write error" "$T/err"; ok $? "--tee to /dev/full: says write error"
mkst "$T/big.safetensors" "w:BF16:600000"
bs-split "$T/big.safetensors" | bs-encode > "$T/big.bs"
bs-verify -t "$T/big.bs" 2> "$T/err" | head -c 100 > /dev/null
is "${PIPESTATUS[0]}" 2 "--tee into a pipe closed early: exit 2"
grep -q "OK" "$T/err" && ! grep -q "write error" "$T/err"
ok $? "--tee into a closed pipe: the whole input checked and reported, no write error said"
# a reader downstream that stops (on the bad data, say) leaves the report whole
flip "$T/big.bs" $(( $(stat -c %s "$T/big.bs") / 2 )) 3 > "$T/dbig.bs"
bs-verify -t "$T/dbig.bs" 2> "$T/err" | head -c 100 > /dev/null
is "${PIPESTATUS[0]}" 1 "--tee of a bad stream into a pipe closed early: exit 1"
grep -q "BAD" "$T/err"; ok $? "... and the report says BAD"
bs-verify -q -t "$T/s.bs" > /dev/full 2> "$T/err"; st=$?
is "$st" 2 "-q --tee to /dev/full: still exit 2"

# ------------------------------------------------------------ usage
expect_fail 2 - "--fast with --sample: exit 2" -- bs-verify --fast -n 3 "$T/s.bs"
expect_fail 2 - "-T 5000: exit 2" -- bs-verify -T 5000 "$T/s.bs"
expect_fail 2 - "a file that does not exist: exit 2" -- bs-verify "$T/nonexistent.bs"
grep -qF nonexistent.bs "$T/stderr"; ok $? "and it is named"
bs-verify "$T/s.bs" "$T/s.bs" > /dev/null 2>&1; is $? 2 "two operands: exit 2"
bs-verify --help | grep -q "^usage: bs-verify \[--fast | -n N\]"; ok $? "--help prints the usage line"

done_testing
