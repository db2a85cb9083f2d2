#!/bin/bash
# bigsmall, the front end: every subcommand on the sample models, default
# output names, -n pasted into bash gives the same result, a failing stage
# fails the subcommand and leaves no output.
. "$(dirname "$0")/../lib.sh"

M=$BS_DATA/models/stories260k
FT=$BS_DATA/models/stories260k-ft
if [ ! -d "$M" ] || [ ! -d "$FT" ]; then
	echo "1..0 # skip: no sample models under $BS_DATA/models"
	exit 0
fi
have() { [ -x "$BS_BIN/$1" ]; }
skip() {	# skip COUNT REASON
	local i
	for ((i = 0; i < $1; i++)); do
		_n=$((_n + 1))
		echo "ok $_n # skip $2"
	done
}
# same_dir A B: every file of A is in B with the same bytes, and back
same_dir() { diff -r "$1" "$2" > /dev/null 2>&1; }
# paste "DESC" ARGS...: run `bigsmall -n ARGS` through bash -o pipefail
pasted() { bash -o pipefail -c "$(bigsmall -n "$@")"; }

cd "$T" || exit 2

# ---------------------------------------------------------------- usage
bigsmall --help > out 2> err; st=$?
is "$st" 0 "bigsmall --help exits 0"
for c in compress decompress apply diff verify info scan repair reshard fetch benchmark migrate; do
	grep -q "^  $c " out || { echo "# missing $c"; false; }
done
ok $? "bigsmall --help lists every command"
bigsmall > out 2> err; st=$?
is "$st" 2 "bigsmall without a command exits 2"
[ ! -s out ] && grep -q "missing command" err; ok $? "... and says so on stderr only"
bigsmall frobnicate x > out 2> err; st=$?
is "$st" 2 "an unknown command exits 2"
grep -q "frobnicate" err; ok $? "... and names it"
for c in compress decompress apply diff verify info scan repair reshard fetch benchmark migrate; do
	bigsmall "$c" --help > out 2> err || break
	grep -q "^usage: bigsmall $c " out || break
	bigsmall "$c" --no-such-option > out 2> err < /dev/null
	[ $? -eq 2 ] && [ ! -s out ] || break
	c=ok
done
is "$c" ok "every command: --help prints its usage, a bad option exits 2"
bigsmall --list-commands | cut -f1 | tr '\n' ' ' > out
is "$(cat out)" "compress decompress apply diff verify info scan repair reshard fetch benchmark migrate " "--list-commands names every command"
bigsmall compress > out 2> err; st=$?
is "$st" 2 "compress without SRC exits 2"

# ------------------------------------------------------ compress, decompress
mkdir -p m && cp -r "$M" m/model
bigsmall compress m/model/ > out 2> err; st=$?
is "$st" 0 "compress a folder with the default output"
[ -s m/model.bs ]; ok $? "... writes m/model.bs next to the folder"
[ ! -s out ]; ok $? "... and nothing on stdout"
ls -a m | grep -c '^\.model\.bs\.' > out; is "$(cat out)" 0 "... and leaves no temporary file"
bigsmall compress m/model > out 2> err; st=$?
is "$st" 2 "compress refuses to replace an existing output"
grep -q "exists" err; ok $? "... and says so"
bigsmall compress -f m/model > out 2> err; st=$?
is "$st" 0 "compress -f replaces it"
mv m/model m/orig
bigsmall decompress m/model.bs 2> err; st=$?
is "$st" 0 "decompress with the default output"
same_dir m/model "$M"; ok $? "... restores m/model, byte for byte"
bigsmall decompress m/model.bs > out 2> err; st=$?
[ "$st" -ne 0 ]; ok $? "decompress refuses to overwrite the files of an existing folder"
bigsmall decompress -f m/model.bs 2> err; st=$?
is "$st" 0 "decompress -f replaces them"
cp "$M/model-00001-of-00002.safetensors" one.safetensors
bigsmall compress one.safetensors 2> err; st=$?
is "$st" 0 "compress a single file"
[ -s one.bs ]; ok $? "... writes one.bs (the .safetensors suffix replaced)"
bigsmall decompress one.bs 2> err
cmp -s one/one.safetensors one.safetensors; ok $? "decompress one.bs restores one/one.safetensors"
bigsmall decompress one.safetensors > out 2> err; st=$?
is "$st" 2 "decompress of a name without .bs and no -o exits 2"

# -n: what is printed is what runs
bigsmall -n compress m/orig -o x.bs > out; st=$?
is "$st" 0 "-n compress exits 0"
is "$(cat out)" "bs-split m/orig | bs-encode -o x.bs" "-n compress prints the pipeline"
[ ! -e x.bs ]; ok $? "-n runs nothing"
bigsmall compress m/orig -o a.bs && pasted compress m/orig -o b.bs
cmp -s a.bs b.bs; ok $? "compress: the pasted pipeline writes the same file"
bigsmall decompress a.bs -o da 2> err && pasted decompress a.bs -o db
same_dir da db && same_dir da "$M"; ok $? "decompress: the pasted pipeline restores the same files"
bigsmall info -t a.bs > i1 && pasted info -t a.bs > i2
cmp -s i1 i2 && grep -q 'model.norm.weight' i1; ok $? "info -t: the same report, tensor by tensor"
bigsmall scan "$M" > s1 && pasted scan "$M" > s2
cmp -s s1 s2 && grep -q 'bounds' s1; ok $? "scan: the same entropy bounds"
bigsmall -n scan "$M" | grep -q '^bs-split .* | bs-info -s$'; ok $? "scan of a folder is bs-split | bs-info -s"

# quoting: names with spaces and quotes survive the paste
mkdir -p "we ird'dir" && cp -r "$M" "we ird'dir/mo del"
bigsmall compress "we ird'dir/mo del" -o "o ne'.bs" && pasted compress "we ird'dir/mo del" -o "t wo'.bs"
cmp -s "o ne'.bs" "t wo'.bs"; ok $? "names with spaces and quotes are quoted in the printed pipeline"
bigsmall -n compress -o 'a$b.bs' '*' > out
is "$(cat out)" "bs-split '*' | bs-encode -o 'a\$b.bs'" "shell characters are quoted"

# ------------------------------------------------------ failures
cp a.bs bad.bs
printf 'XXXXXXXX' | dd of=bad.bs bs=1 seek=200000 conv=notrunc 2> /dev/null
bigsmall decompress bad.bs > out 2> err; st=$?
is "$st" 1 "decompress of a corrupt .bs exits 1"
[ ! -e bad ]; ok $? "... and leaves no output folder"
grep -q 'bs-decode' err; ok $? "... and the failing stage says why"
pasted decompress bad.bs -o bad2 2> /dev/null; st=$?
[ "$st" -ne 0 ] && [ ! -e bad2 ]; ok $? "... the pasted pipeline fails the same way"
head -c 300000 a.bs > trunc.bs
bigsmall migrate trunc.bs -o mig.bs 2> err; st=$?
is "$st" 1 "migrate of a truncated .bs exits 1"
[ ! -e mig.bs ]; ok $? "... and writes nothing"
bigsmall compress no-such-model -o none.bs > out 2> err; st=$?
is "$st" 2 "compress of a missing SRC exits 2"
[ ! -e none.bs ]; ok $? "... and writes nothing"
head -c 100000 "$M/model-00001-of-00002.safetensors" > cut.safetensors
bigsmall compress cut.safetensors 2> err; st=$?
is "$st" 1 "compress of a truncated safetensors file exits 1"
[ ! -e cut.bs ]; ok $? "... and writes nothing"

# a stage that fails after a complete stream: still the command's failure,
# and the output its last stage put in place is taken away again
mkdir -p fake
cp "$BS_BIN/bigsmall" fake/
for p in "$BS_BIN"/bs-*; do ln -s "$p" fake/; done
bs-split "$M" > raw.bs
rm fake/bs-split
printf '#!/bin/sh\ncat %s\nexit 1\n' "$T/raw.bs" > fake/bs-split
chmod +x fake/bs-split
fake/bigsmall compress "$M" -o late.bs > out 2> err; st=$?
is "$st" 1 "a first stage that fails late fails compress"
[ ! -e late.bs ]; ok $? "... and the output is removed"
printf '#!/bin/sh\nexit 0\n' > fake/bs-split
fake/bigsmall compress "$M" -o empty.bs > out 2> err; st=$?
[ "$st" -ne 0 ] && [ ! -e empty.bs ]; ok $? "a first stage that writes nothing fails compress"
grep -q "bs-encode: its input ended early: bs-split exited 0 without writing a whole stream" err; ok $? "... and bigsmall says so (no stage can)"
printf "not a safetensors file at all" > notst.safetensors
bigsmall compress notst.safetensors -o notst.bs > out 2> err; st=$?
is "$st" 1 "a first stage that fails on bad data: exit 1"
is "$(wc -l < err)" 1 "... one line on stderr: the next stage's empty input is not reported again"
grep -q "^bs-split: notst.safetensors: " err; ok $? "... the first stage's, naming the file"
bs-split "$M" | bs-encode > good.bs
len=$(stat -c %s good.bs)
head -c $((len / 2)) good.bs > half.bs
bigsmall decompress half.bs -o halfdir > out 2> err; st=$?
is "$st" 1 "a first stage that fails half way: exit 1"
is "$(wc -l < err)" 1 "... one line on stderr: the next stage's cut input is not reported again"
grep -q "^bs-decode: half.bs: " err && [ ! -e halfdir ]; ok $? "... the first stage's, and no folder"
: > empty.bs
BS_PIPELINE_DOWNSTREAM=1 bigsmall decompress empty.bs -o edir > out 2> err; st=$?
is "$st" 1 "BS_PIPELINE_DOWNSTREAM in the caller's environment does not silence the first stage"
grep -q "^bs-decode: empty.bs: empty input" err; ok $? "... which says what is wrong"
rm fake/bs-verify fake/bs-delta
PATH=/usr/bin:/bin fake/bigsmall compress --delta-from "$M" "$FT" -o nod.bs > out 2> err; st=$?
is "$st" 2 "a program that is not installed: exit 2"
grep -q 'bs-delta' err && [ ! -e nod.bs ]; ok $? "... naming it, before anything runs"

# ------------------------------------------------------ verify
if have bs-verify; then
	bigsmall verify a.bs > out 2> err; st=$?
	is "$st" 0 "verify of a good .bs exits 0"
	bigsmall verify bad.bs > out 2> err; st=$?
	is "$st" 1 "verify of a damaged .bs exits 1"
	bigsmall verify --fast a.bs > out 2> err; st=$?
	is "$st" 0 "verify --fast"
	bigsmall verify --sample 3 a.bs > out 2> err; st=$?
	is "$st" 0 "verify --sample 3"
	is "$(bigsmall -n verify --sample 3 a.bs)" "bs-verify --sample 3 a.bs" "verify --sample is bs-verify --sample"
	pasted verify bad.bs > /dev/null 2>&1; st=$?
	is "$st" 1 "verify: the pasted pipeline fails the same way"
else
	skip 6 "bs-verify not built"
fi

# ------------------------------------------------------ delta: compress, decompress, apply, diff
if have bs-delta && have bs-patch; then
	bigsmall compress --delta-from "$M" "$FT" -o ft.bs 2> err; st=$?
	is "$st" 0 "compress --delta-from"
	[ "$(stat -c %s ft.bs)" -lt "$(stat -c %s a.bs)" ]; ok $? "... the patch is smaller than the whole model"
	pasted compress --delta-from "$M" "$FT" -o ft2.bs 2> /dev/null
	cmp -s ft.bs ft2.bs; ok $? "... and the pasted pipeline writes the same patch"
	bigsmall decompress --base "$M" ft.bs -o ftd 2> err
	same_dir ftd "$FT"; ok $? "decompress --base restores the fine-tune"
	bigsmall apply "$M" ft.bs -o fta 2> err
	same_dir fta "$FT"; ok $? "apply BASE PATCH -o DIR restores the fine-tune"
	pasted apply "$M" ft.bs -o ftb 2> /dev/null
	same_dir ftb "$FT"; ok $? "... and so does its pasted pipeline"
	bigsmall apply a.bs ft.bs -o ftc 2> err; st=$?
	[ "$st" -eq 0 ] && same_dir ftc "$FT"; ok $? "apply takes the base as a .bs too"
	bigsmall apply "$FT" ft.bs -o wrong > out 2> err; st=$?
	[ "$st" -ne 0 ] && [ ! -e wrong/model-00001-of-00002.safetensors ]; ok $? "apply against the wrong base fails and writes no model"
	bigsmall decompress ft.bs -o nobase > out 2> err; st=$?
	[ "$st" -ne 0 ]; ok $? "decompress of a patch without --base fails"
	mkdir -p hub && cp -r "$M" hub/base && cp -r "$FT" hub/ft
	is "$(bigsmall -n compress --auto-delta hub hub/ft -o auto.bs)" "bs-split hub/ft | bs-delta --auto hub/base | bs-encode -o auto.bs" \
	    "compress --auto-delta: the folder of models gives its models, SRC left out"
	bigsmall compress --auto-delta hub hub/ft -o auto.bs 2> err; st=$?
	is "$st" 0 "compress --auto-delta"
	bigsmall decompress --base hub/base auto.bs -o autod 2> err
	same_dir autod "$FT"; ok $? "... and the patch it picked restores the fine-tune"
	bigsmall diff "$M" "$FT" > out 2> err; st=$?
	is "$st" 1 "diff of base and fine-tune exits 1"
	grep -q '^~ model.norm.weight (values)$' out; ok $? "... and names a changed tensor"
	grep -q '^4 identical, 47 changed, 0 only in' out; ok $? "... and counts: blobs identical, tensors changed"
	bigsmall diff "$M" a.bs > out 2> err; st=$?
	is "$st" 0 "diff of a folder and its .bs exits 0"
	grep -q '^51 identical, 0 changed' out; ok $? "... every tensor and file identical"
	bigsmall diff --patch p.bs "$M" "$FT" > out 2> err; st=$?
	is "$st" 1 "diff --patch exits 1 (they differ)"
	cmp -s p.bs ft.bs; ok $? "... and writes the same patch as compress --delta-from"
	pasted diff --patch p2.bs "$M" "$FT" 2> /dev/null
	cmp -s p2.bs ft.bs; ok $? "... and so does its pasted pipeline"
	bigsmall diff --patch p.bs "$M" "$FT" > out 2> err; st=$?
	is "$st" 2 "diff --patch refuses to replace an existing FILE"
	bigsmall diff -f --patch p.bs "$M" "$FT" > out 2> err; st=$?
	is "$st" 1 "... and replaces it with -f"
	bigsmall diff "$M" "$FT" > /dev/full 2> err; st=$?
	is "$st" 2 "diff whose report cannot be written: exit 2, not 1"
	cp "$M/config.json" c.json; rm -rf cut && cp -r "$M" cut && rm cut/tok512.bin && echo '{}' > cut/extra.json
	bigsmall diff "$M" cut > out 2> err; st=$?
	grep -q '^- file tok512.bin' out && grep -q '^+ file extra.json' out; ok $? "diff names files only in A and only in B"
else
	skip 24 "bs-delta or bs-patch not built"
fi

# ------------------------------------------------------ ecc, repair
if have bs-ecc; then
	bigsmall compress --ecc "$M" -o e.bs 2> err; st=$?
	is "$st" 0 "compress --ecc"
	bigsmall -n compress --ecc "$M" -o e2.bs | grep -q '| bs-encode | bs-ecc -o e2.bs$'; ok $? "... is bs-encode | bs-ecc -o OUT"
	[ "$(stat -c %s e.bs)" -lt $(( $(bigsmall compress "$M" -o - 2>/dev/null | wc -c) * 3 / 2 )) ]; ok $? "... whose parity, for a small model, is well under the stream's size"
	cp e.bs e2.bs
	printf 'XXXXXXXX' | dd of=e2.bs bs=1 seek=100000 conv=notrunc 2> /dev/null
	bigsmall repair e2.bs -o fixed.bs 2> err; st=$?
	is "$st" 0 "repair -o OUT"
	bigsmall decompress fixed.bs -o fixedd 2> err
	same_dir fixedd "$M"; ok $? "... gives a stream that restores the model"
	bigsmall repair e2.bs 2> err; st=$?
	is "$st" 0 "repair in place"
	cmp -s e.bs e2.bs; ok $? "... gives back the protected stream, byte for byte"
else
	skip 6 "bs-ecc not built"
fi

# ------------------------------------------------------ reshard
if bs-reshard --list-options | grep -q 'size'; then
	bigsmall reshard "$M" -o rs --size-gb 0.0002 2> err; st=$?
	is "$st" 0 "reshard a folder --size-gb"
	ls rs/*.safetensors | wc -l > out; [ "$(cat out)" -gt 2 ]; ok $? "... into more shards than before"
	is "$(bigsmall -n reshard a.bs -o rs2 --join)" "bs-reshard --join -o rs2 a.bs" "reshard of a .bs is bs-reshard on it"
	bigsmall reshard a.bs -o rs3 --shards 3 && pasted reshard a.bs -o rs4 --shards 3
	same_dir rs3 rs4; ok $? "reshard --shards: the pasted pipeline writes the same shards"
	is "$(bigsmall -n reshard "$M" -o rs5 --join --bs)" "bs-split $M | bs-encode | bs-reshard --join --bs -o rs5" "reshard --bs of a folder codes on the way"
	bigsmall reshard "$M" -o rs6 --size 100K; ok $? "reshard --size 100K, as bs-reshard takes it"
else
	skip 6 "bs-reshard has no --size"
fi

# ------------------------------------------------------ fetch (names only: no network here)
is "$(bigsmall -n fetch 'https://host/x/model.bs?download=1')" "bs-fetch -o model.bs 'https://host/x/model.bs?download=1'" "fetch: default output from the URL"
is "$(bigsmall -n fetch hf:org/tiny)" "bs-fetch hf:org/tiny | bs-encode -o tiny.bs" "fetch hf:ORG/NAME encodes the repo's stream into NAME.bs"
bigsmall -n fetch https://host/ > out 2> err; st=$?
is "$st" 2 "fetch of a URL without a file name and no -o exits 2"

# ------------------------------------------------------ migrate
bs-split "$M" | bs-encode --codec none > old.bs
cp old.bs old2.bs
bigsmall migrate old.bs 2> err; st=$?
is "$st" 0 "migrate in place"
[ "$(stat -c %s old.bs)" -lt "$(stat -c %s old2.bs)" ]; ok $? "... re-encodes with the current codecs (smaller)"
bs-decode old.bs | cmp -s - raw.bs; ok $? "... and decodes to the same raw stream"
pasted migrate old2.bs; cmp -s old.bs old2.bs; ok $? "... as its pasted pipeline does"

mkdir -p dflt && cp "$M"/config.json dflt/ 2>/dev/null || echo x > dflt/x
bigsmall compress dflt 2> err && bigsmall decompress dflt.bs 2> err; is "$?" 2 "decompress refuses a default folder that exists (the source)"
grep -q "name another with -o" err; ok $? "... and says to name another with -o"

# ------------------------------------------------------ benchmark
bigsmall benchmark "$M" > out 2> err; st=$?
is "$st" 0 "benchmark exits 0"
grep -q '^bigsmall ' out; ok $? "... reports bigsmall"
awk '$1 == "bigsmall" { exit !($3 > 0 && $3 < 1) }' out; ok $? "... with its ratio as coded over raw (below 1)"
if command -v zstd > /dev/null; then
	grep -q '^zstd -3 ' out; ok $? "... beside zstd"
else
	skip 1 "zstd not installed"
fi
ls "${TMPDIR:-/tmp}" | grep -c "^bigsmall-bench" > out2 || true
bigsmall -n benchmark "$M" > out; grep -q 'time bs-encode' out; ok $? "benchmark -n prints the commands it times"

# ------------------------------------------------------ resume
bs-split "$M" | bs-encode | head -c 250000 > r.bs.part
bigsmall compress --resume "$M" -o r.bs 2> err; st=$?
is "$st" 0 "compress --resume continues a partial output"
[ -e r.bs ] && [ ! -e r.bs.part ]; ok $? "... renames OUT.part to OUT at the end"
grep -q 'complete files* kept' err; ok $? "... and says what it kept"
bigsmall decompress r.bs -o rd 2> err
same_dir rd "$M"; ok $? "... and the result restores the model"
head -c 5000 a.bs > r2.bs.part
bigsmall compress --resume "$M" -o r2.bs 2> err; st=$?
bigsmall decompress r2.bs -o r2d 2> err
[ "$st" -eq 0 ] && same_dir r2d "$M"; ok $? "--resume keeps the whole files of the first frames only"
head -c 100 a.bs > r5.bs.part
bigsmall compress --resume "$M" -o r5.bs 2> err; st=$?
[ "$st" -eq 0 ] && cmp -s r5.bs a.bs; ok $? "--resume with nothing complete starts again"
bigsmall compress --resume "$M" -o r3.bs 2> err; st=$?
[ "$st" -eq 0 ] && cmp -s r3.bs a.bs; ok $? "--resume without a .part compresses as usual"
is "$(bigsmall -n compress --resume "$M" -o r6.bs | wc -l)" 1 "compress --resume -n prints one line"
head -c 100000 a.bs > r7.bs.part
bigsmall -n compress --resume "$M" -o r7.bs > line; grep -q '^# r7.bs.part exists' line; ok $? "... and a comment when a part exists"
bash -o pipefail -c "$(grep -v "^#" line)" && bs-decode r7.bs | bs-reshard -o r7d && same_dir r7d "$M"
ok $? "... whose pasted line writes a whole stream, never one appended to a cut part"
bash -c "$(bigsmall -n compress --resume "$M" -o r6.bs)"; st=$?
[ "$st" -eq 0 ] && [ ! -e r6.bs.part ] && cmp -s r6.bs a.bs; ok $? "... which, pasted, writes OUT through OUT.part"
printf 'not a stream' > r4.bs.part
bigsmall compress --resume "$FT" -o r4.bs 2> err
bigsmall decompress r4.bs -o r4d 2> err
same_dir r4d "$FT"; ok $? "--resume over garbage starts again"
# a part left by another model (same file names): refused, not kept
bigsmall compress "$FT" -o ftw.bs 2> err
head -c 300000 ftw.bs > r8.bs.part
bigsmall compress --resume "$M" -o r8.bs 2> err; st=$?
is "$st" 1 "--resume over the part of another model: exit 1"
grep -q "does not have as it is (size or SHA-256)" err && [ ! -e r8.bs ]; ok $? "... saying which file differs, and no output"
if [ -e ft.bs ]; then
	cp ft.bs r9.bs.part
	bigsmall compress --resume "$M" -o r9.bs 2> err; st=$?
	is "$st" 1 "--resume of a whole model over a patch's part: exit 1"
	grep -q "holds a patch" err; ok $? "... saying so"
else
	skip 2 "no patch (bs-delta not built)"
fi

done_testing
