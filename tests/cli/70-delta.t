#!/bin/bash
# bs-delta and bs-patch: fine-tunes against their base, real and generated;
# every round trip bit-identical to bs-split's output, a wrong base refused.
. "$(dirname "$0")/../lib.sh"
mkst() { perl "$top/tests/mkst.pl" "$@"; }
S=$BS_DATA/models
FB=$BS_DATA/bench

# rt FT BASE DESC: split | delta | encode | decode | patch gives the split stream
n=0
rt() {
	local ft=$1 base=$2 desc=$3
	n=$((n + 1))
	local o="$T/d$n"
	bs-split "$ft" > "$o.raw" 2> "$o.err" &&
	    bs-delta -v --base "$base" < "$o.raw" 2>> "$o.err" > "$o.delta" &&
	    bs-encode -T 2 < "$o.delta" > "$o.patch" 2>> "$o.err" &&
	    bs-decode < "$o.patch" 2>> "$o.err" | bs-patch --base "$base" > "$o.out" 2>> "$o.err"
	ok $? "$desc: split | delta | encode | decode | patch runs"
	sed 's/^/#   /' "$o.err" | head -3
	cmp -s "$o.out" "$o.raw"; ok $? "$desc: patched stream = split stream"
	bs-patch --base "$base" < "$o.patch" | cmp -s - "$o.raw"
	ok $? "$desc: bs-patch decodes an encoded patch itself"
}
# kinds: "references deltas whole" of the tensors, then "/ references
# whole" of the blobs when there are any, from bs-delta -v of the last rt
kinds() {
	sed -n -e 's/.*: \([0-9]*\) references*, \([0-9]*\) deltas*, \([0-9]*\) whole$/\1 \2 \3/p' \
	    -e 's/.* blobs* (files other than safetensors): \([0-9]*\) references*, \([0-9]*\) whole$/\/ \1 \2/p' \
	    "$T/d$n.err" | paste -sd' '
}

# ---------------------------------------------------------- real pairs
rt "$S/stories260k-ft" "$S/stories260k" "stories260k fine-tune"
is "$(kinds)" "0 47 0 / 4 0" "stories260k: 4 blobs referenced, 47 tensors as deltas"
# a base reached through symbolic links, as in a Hugging Face cache: a link
# to the folder, and a folder of links to the files
ln -s "$S/stories260k" "$T/lbase"
mkdir "$T/fbase"; for f in "$S"/stories260k/*; do ln -s "$f" "$T/fbase/"; done
rt "$S/stories260k-ft" "$T/lbase" "base as a link to the folder"
is "$(kinds)" "0 47 0 / 4 0" "... read through the link: the same deltas and references"
rt "$S/stories260k-ft" "$T/fbase/" "base as a folder of links"
is "$(kinds)" "0 47 0 / 4 0" "... read through the links: the same deltas and references"
rm -rf "$T/restored"
bs-patch --base "$S/stories260k" < "$T/d$n.patch" | bs-reshard -o "$T/restored" &&
    diff -r "$T/restored" "$S/stories260k-ft" >&2
ok $? "stories260k: patch | reshard restores the fine-tune's files byte for byte"
coded=$(bs-info "$T/d$n.patch" | sed -n 's/.*coded \([0-9]*\) bytes.*/\1/p')
alone=$(bs-encode < "$T/d$n.raw" | bs-info | sed -n 's/.*coded \([0-9]*\) bytes.*/\1/p')
[ "${coded:-0}" -gt 0 ] && [ "$coded" -lt "$alone" ]
ok $? "stories260k: the patch ($coded) is smaller than the fine-tune alone ($alone)"
diag "stories260k patch: $coded coded bytes of 530938 raw; alone $alone"
# a decoded patch re-encoded: bs-encode picks the delta codec for residual
# chunks itself (within 1% of what bs-delta coded)
again=$(bs-decode < "$T/d$n.patch" | bs-encode | bs-info | sed -n 's/.*coded \([0-9]*\) bytes.*/\1/p')
[ "${again:-0}" -gt 0 ] && [ $((again * 100)) -le $((coded * 101)) ]
ok $? "stories260k: decode | encode of the patch codes residuals as small ($again, was $coded)"
bs-decode < "$T/d$n.patch" | bs-encode | bs-info | grep -q "delta [0-9]*->"
ok $? "stories260k: ... with the delta codec"
# a higher level tries more and keeps the smallest: never a larger patch
l3=$(bs-delta -l 3 --base "$S/stories260k" < "$T/d$n.raw" | bs-info | sed -n 's/.*coded \([0-9]*\) bytes.*/\1/p')
l7=$(bs-delta -l 7 --base "$S/stories260k" < "$T/d$n.raw" | bs-info | sed -n 's/.*coded \([0-9]*\) bytes.*/\1/p')
[ "${l7:-0}" -gt 0 ] && [ "$l7" -le "$l3" ]
ok $? "stories260k: bs-delta -l 7 makes a patch no larger than -l 3 ($l7, $l3)"
# every SIMD path (BS_SIMD caps it) writes the portable path's patch and
# applies it
BS_SIMD=none bs-delta --base "$S/stories260k" < "$T/d$n.raw" > "$T/none.delta"
for lvl in avx2 any; do
	BS_SIMD=$lvl bs-delta --base "$S/stories260k" < "$T/d$n.raw" | cmp -s - "$T/none.delta"
	ok $? "stories260k: bs-delta with BS_SIMD=$lvl writes the portable path's bytes"
	BS_SIMD=$lvl bs-patch --base "$S/stories260k" < "$T/none.delta" | cmp -s - "$T/d$n.raw"
	ok $? "stories260k: bs-patch with BS_SIMD=$lvl applies them"
done

f1=model-00001-of-00002.safetensors
# an identical model: every file a file reference, under 1% of the full
# stream, rebuilt from a folder, an indexed .bs and a raw .bs on a pipe
bs-split "$S/stories260k" > "$T/sbase.raw"
bs-encode < "$T/sbase.raw" > "$T/sbase.bs"
bs-delta -v --base "$S/stories260k" < "$T/sbase.raw" 2> "$T/same.err" | bs-encode > "$T/same.patch"
ok $? "stories260k against itself: delta | encode runs"
full=$(stat -c %s "$T/sbase.bs"); same=$(stat -c %s "$T/same.patch")
[ "$same" -gt 0 ] && [ $((same * 100)) -lt "$full" ]
ok $? "stories260k against itself: a patch of $same bytes, under 1% of the full $full"
grep -q "6 files identical to the base's" "$T/same.err"; ok $? "... and bs-delta -v says 6 files are references"
is "$(bs-info -F "$T/same.patch" | awk 'NR > 1 && $2 == "ref"' | wc -l)" 6 "bs-info -F lists the 6 file references"
for b in "$S/stories260k" "$T/sbase.bs"; do
	bs-patch --base "$b" < "$T/same.patch" | cmp -s - "$T/sbase.raw"
	ok $? "file references rebuilt from $(basename "$b"): the split stream, byte for byte"
done
bs-patch --base /dev/stdin "$T/same.patch" < "$T/sbase.raw" | cmp -s - "$T/sbase.raw"
ok $? "file references rebuilt from a raw .bs on a pipe"
bs-verify -q --base "$S/stories260k" "$T/same.patch"; ok $? "bs-verify --base checks the file references"
bs-verify "$T/same.patch" > "$T/v.out"; ok $? "bs-verify without a base: OK"
grep -q "6 file references: not checked without --base" "$T/v.out"; ok $? "... and says what it could not check"
bs-reshard -o "$T/nope" "$T/same.patch" 2> "$T/err"; is $? 1 "bs-reshard refuses a file reference (exit 1)"
grep -q "reference to a base's file: apply it with bs-patch --base BASE first" "$T/err"; ok $? "... saying to apply it with bs-patch first"
# a modified base file: refused, named
mkdir -p "$T/modbase"; cp "$S/stories260k"/* "$T/modbase/"; chmod u+w "$T/modbase"/*
perl -e 'open F, "+<", $ARGV[0] or die; seek F, -2, 2; print F "\x5a"' "$T/modbase/$f1"
bs-patch --base "$T/modbase" < "$T/same.patch" > /dev/null 2> "$T/err"; is $? 1 "a modified base file: bs-patch exits 1"
grep -q "file '$f1' of the base .* does not match .*SHA-256" "$T/err"; ok $? "... naming the file"
bs-verify -q --base "$T/modbase" "$T/same.patch" 2> /dev/null; is $? 1 "... and bs-verify --base finds it"

# the base as a folder, a safetensors file, an encoded .bs, a raw .bs on a pipe
bs-split "$S/stories260k" > "$T/base.raw"
bs-encode < "$T/base.raw" > "$T/base.bs"
for b in "$T/base.bs" "$T/base.raw"; do
	bs-delta --base "$b" < "$T/d1.raw" | bs-encode | bs-patch --base "$b" | cmp -s - "$T/d1.raw"
	ok $? "base given as $(basename "$b")"
done
bs-delta --base <(cat "$T/base.bs") < "$T/d1.raw" > "$T/pipe.delta" &&
    bs-patch --base <(cat "$T/base.bs") < "$T/pipe.delta" | cmp -s - "$T/d1.raw"
ok $? "base given as a .bs on a pipe"
bs-delta --base "$T/base.bs" < "$T/d1.raw" | cmp -s - "$T/d1.delta"
ok $? "the same delta from the folder and from the .bs"
rt "$S/stories260k-ft/$f1" "$S/stories260k/$f1" "base given as a safetensors file"

if [ -z "$BS_QUICK" ]; then
	rt "$FB/faceres-deep.bf16.safetensors" "$FB/faceres.bf16.safetensors" "faceres pair"
	coded=$(bs-info "$T/d$n.patch" | sed -n 's/.*coded \([0-9]*\) bytes.*/\1/p')
	alone=$(bs-encode < "$T/d$n.raw" | bs-info | sed -n 's/.*coded \([0-9]*\) bytes.*/\1/p')
	[ "${coded:-0}" -gt 0 ] && [ "$coded" -lt "$alone" ]
	ok $? "faceres: the patch ($coded) is smaller than the checkpoint alone ($alone)"
	# identical: a patch under 1% of the full compressed size
	full=$(bs-split "$FB/faceres.bf16.safetensors" | bs-encode | wc -c)
	same=$(bs-split "$FB/faceres.bf16.safetensors" | bs-delta --base "$FB/faceres.bf16.safetensors" | bs-encode | wc -c)
	[ "$same" -gt 0 ] && [ $((same * 100)) -lt "$full" ]
	ok $? "identical checkpoint: patch of $same bytes < 1% of $full"
	bs-split "$FB/faceres.bf16.safetensors" | bs-delta --base "$FB/faceres.bf16.safetensors" |
	    bs-patch --base "$FB/faceres.bf16.safetensors" | bs-reshard -o "$T/same" &&
	    cmp "$T/same/faceres.bf16.safetensors" "$FB/faceres.bf16.safetensors"
	ok $? "identical checkpoint: restored byte for byte"
	# tensors of several chunks: the transform and codec are chosen once a tensor
	bs-split -c 64K "$FB/faceres-deep.bf16.safetensors" > "$T/fc.raw"
	bs-delta --base "$FB/faceres.bf16.safetensors" < "$T/fc.raw" | bs-encode > "$T/fc.patch" &&
	    bs-patch --base "$FB/faceres.bf16.safetensors" < "$T/fc.patch" | cmp -s - "$T/fc.raw"
	ok $? "64K chunks (tensors of many chunks): the patch restores the stream"
	one=$(bs-info "$T/d$n.patch" | sed -n 's/.*coded \([0-9]*\) bytes.*/\1/p')
	many=$(bs-info "$T/fc.patch" | sed -n 's/.*coded \([0-9]*\) bytes.*/\1/p')
	[ "${many:-0}" -gt 0 ] && [ $((many * 100)) -lt $((one * 103)) ]
	ok $? "... and codes within 3% of the 1 MiB chunks' patch ($many against $one)"
fi

# ------------------------------------------------------------ threads
bs-delta -T 1 --base "$S/stories260k" < "$T/d1.raw" > "$T/t1.delta" &&
    bs-delta -T 2 --base "$S/stories260k" < "$T/d1.raw" > "$T/t2.delta" &&
    cmp -s "$T/t1.delta" "$T/t2.delta" && [ -s "$T/t1.delta" ]
ok $? "bs-delta: -T 1 and -T 2 write the same delta"
bs-patch -T 1 --base "$S/stories260k" < "$T/d1.patch" > "$T/t1.out" &&
    bs-patch -T 2 --base "$S/stories260k" < "$T/d1.patch" > "$T/t2.out" &&
    cmp -s "$T/t1.out" "$T/t2.out" && cmp -s "$T/t1.out" "$T/d1.raw"
ok $? "bs-patch: -T 1 and -T 2 rebuild the same stream"
bs-split -c 4096 "$S/stories260k-ft" > "$T/small.raw"
bs-delta -T 3 --base "$S/stories260k" < "$T/small.raw" | bs-encode -T 2 |
    bs-patch -T 3 --base "$S/stories260k" | cmp -s - "$T/small.raw"
ok $? "4 KiB chunks on 3 threads: round trip"

# ------------------------------------------------------ a wrong base
expect_fail 1 - "patch against the fine-tune instead of the base: exit 1" -- \
    bs-patch --base "$S/stories260k-ft" "$T/d1.patch"
grep -q "model.embed_tokens.weight" "$T/stderr"; ok $? "the message names the first tensor that does not match"
grep -q "wrong or modified base" "$T/stderr"; ok $? "the message says the base is wrong"
expect_fail 1 - "patch against an unrelated model: exit 1" -- \
    bs-patch --base "$FB/faceres.bf16.safetensors" "$T/d1.patch"
bs-delta --base "$S/stories260k" < "$T/d1.delta" > /dev/null 2> "$T/err"; st=$?
is "$st" 1 "a delta stream given to bs-delta again: exit 1"

# ---------------------------------------------------- generated pairs
G=$T/gen
mkdir -p "$G/base"
mkst --seed 5 "$G/base/model.safetensors" "w:BF16:64,64" "b:F32:100" "c:U8:10" "h:F16:300" "q:F4:8"
echo '{"model_type": "test"}' > "$G/base/config.json"
head -c 5000 /dev/urandom > "$G/base/tok.bin"
mkft() {	# mkft NAME TENSORS...: a fine-tune folder with the base's blobs
	mkdir -p "$G/$1"
	cp "$G/base/config.json" "$G/base/tok.bin" "$G/$1/"
	local name=$1; shift
	mkst --seed 5 "$G/$name/model.safetensors" "$@"
}
mkft same "w:BF16:64,64" "b:F32:100" "c:U8:10" "h:F16:300" "q:F4:8"
rt "$G/same" "$G/base" "identical model"
is "$(kinds)" "5 0 0 / 2 0" "identical model: every tensor and blob a reference"

mkft one "w:BF16:64,64" "b:F32:100" "c:U8:10" "h:F16:300" "q:F4:8"
perl -e 'open F, "+<", $ARGV[0] or die; seek F, -3, 2; print F "\x11\x22\x33"' "$G/one/model.safetensors"
rt "$G/one" "$G/base" "one tensor changed"
is "$(kinds)" "4 1 0 / 2 0" "one tensor changed: one delta, the rest references"

mkft added "w:BF16:64,64" "b:F32:100" "c:U8:10" "h:F16:300" "q:F4:8" "new:BF16:7,3"
rt "$G/added" "$G/base" "a tensor added"
is "$(kinds)" "5 0 1 / 2 0" "a tensor added: it travels whole"

mkft removed "w:BF16:64,64" "b:F32:100" "c:U8:10"
rt "$G/removed" "$G/base" "tensors removed"
is "$(kinds)" "3 0 0 / 2 0" "tensors removed: the others are references"

mkft reshaped "w:BF16:32,128" "b:F32:100" "c:U8:10" "h:F16:300" "q:F4:8"
rt "$G/reshaped" "$G/base" "a tensor reshaped"
is "$(kinds)" "4 0 1 / 2 0" "a tensor reshaped: it travels whole"

mkft retyped "w:BF16:64,64" "b:I32:100" "c:U8:10" "h:F16:300" "q:F4:8"
rt "$G/retyped" "$G/base" "a dtype changed"
is "$(kinds | cut -d" " -f3)" 1 "a dtype changed: it travels whole"

mkft blobs "w:BF16:64,64" "b:F32:100" "c:U8:10" "h:F16:300" "q:F4:8"
echo '{"model_type": "changed"}' > "$G/blobs/config.json"
echo 'new file' > "$G/blobs/README.md"
rt "$G/blobs" "$G/base" "blobs changed and added"
is "$(kinds)" "5 0 0 / 1 2" "blobs changed and added: they travel whole"
rm -rf "$T/rb"
bs-patch --base "$G/base" < "$T/d$n.patch" | bs-reshard -o "$T/rb" && diff -r "$T/rb" "$G/blobs" >&2
ok $? "blobs changed: restored folder identical"

# a fine-tune with every value changed a little: deltas of every dtype
mkft all "w:BF16:64,64" "b:F32:100" "c:U8:10" "h:F16:300" "q:F4:8"
perl -e 'open F, "+<", $ARGV[0] or die; binmode F; read F, $l, 8; $h = unpack "Q<", $l;
	seek F, 8 + $h, 0; local $/; $d = <F>; $d =~ s/(.)/chr(ord($1) ^ 1)/gse;
	seek F, 8 + $h, 0; print F $d' "$G/all/model.safetensors"
rt "$G/all" "$G/base" "every value changed"
is "$(kinds)" "0 5 0 / 2 0" "every value changed: five deltas"
bs-split -c 4096 "$G/all" | bs-delta --base "$G/base" | bs-encode | bs-patch --base "$G/base" |
    cmp -s - <(bs-split -c 4096 "$G/all")
ok $? "every value changed, 4 KiB chunks: round trip"

# a model of several parts repeating tensor names (text_encoder/ and
# text_encoder_2/): each tensor is paired with the one in the base's file of
# the same path, not the first of that name
mkdir -p "$G/pb/te" "$G/pb/te2" "$G/pf/te" "$G/pf/te2"
mkst --seed 7 "$G/pb/te/model.safetensors" "emb:BF16:64,64"
mkst --seed 8 "$G/pb/te2/model.safetensors" "emb:BF16:64,64"
mkst --seed 9 "$G/pf/te/model.safetensors" "emb:BF16:64,64"
cp "$G/pb/te2/model.safetensors" "$G/pf/te2/"
rt "$G/pf" "$G/pb" "parts repeating tensor names"
is "$(kinds)" "1 1 0" "parts repeating names: te2/emb, identical to the base's te2/emb, a reference"
bs-verify -q --base "$G/pb" "$T/d$n.patch"; ok $? "... and bs-verify --base finds the same base tensors"
# with no file of the same path, the first by path, whatever order a
# stream holds the base's files in: a patch made against the folder
# applies with the .bs of the same model made from an archive listing b/
# before a/
mkdir -p "$G/ob/a" "$G/ob/b" "$G/of/z"
mkst --seed 1 "$G/ob/a/m.safetensors" "emb:BF16:16"
mkst --seed 2 "$G/ob/b/m.safetensors" "emb:BF16:16"
cp "$G/ob/b/m.safetensors" "$G/of/z/"
(cd "$G/ob" && tar cf "$T/ob.tar" b/m.safetensors a/m.safetensors)
bs-split -q "$T/ob.tar" > "$T/ob.bs"
bs-split -q "$G/of" | bs-delta --base "$G/ob" | bs-patch --base "$T/ob.bs" | cmp -s - <(bs-split -q "$G/of")
ok $? "no file of the same path: the first by path, for a folder and for a stream listing its files otherwise"
bigsmall diff "$G/ob" "$G/of" | grep -q "^0 identical, 1 changed, 1 only in"
ok $? "bigsmall diff pairs from the second model's side: of/z/emb with ob/a/emb, ob/b/emb only in the first"
bigsmall diff -v "$G/pb" "$G/pf" | grep -q "^= emb in te2/model.safetensors$"
ok $? "bigsmall diff -v names the file of a name several files hold"
bigsmall diff "$G/pb" "$G/pf" | grep -q "^1 identical, 1 changed"
ok $? "... and bigsmall diff pairs them the same way (te2/emb identical, te/emb changed)"

# ------------------------------------------------------------- --auto
bs-split "$S/stories260k-ft" | bs-delta --auto "$G/base" "$FB/faceres.bf16.safetensors" "$T/base.bs" "$S/stories260k-ft/$f1" \
    > "$T/auto.delta" 2> "$T/auto.err"
ok $? "--auto among four candidates runs"
grep -q "base $T/base.bs" "$T/auto.err"; ok $? "--auto picks the stories260k base and says so"
bs-patch --base "$T/base.bs" < "$T/auto.delta" | cmp -s - "$T/d1.raw"
ok $? "--auto: the delta patches back"
bs-split "$G/all" | bs-delta --auto "$G/base" "$G/one" "$G/reshaped" > /dev/null 2> "$T/auto.err"
grep -q "base $G/base\$" "$T/auto.err"; ok $? "--auto picks the closest of three related models"
bs-split "$S/stories260k-ft" | bs-delta --auto <(cat "$T/base.bs") 2> /dev/null |
    bs-patch --base "$T/base.bs" | cmp -s - "$T/d1.raw"
ok $? "--auto with a pipe as the candidate: read once, and it is the base"
bs-delta --auto < /dev/null > /dev/null 2>&1; st=$?
is "$st" 2 "--auto without candidates: usage error"

done_testing
