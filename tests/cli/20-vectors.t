#!/bin/bash
# Generated safetensors vectors round-trip byte for byte through
# bs-split | bs-encode | bs-decode | bs-reshard: every dtype, odd shapes,
# odd headers, folders, chunking, stdin, concatenation.
. "$(dirname "$0")/../lib.sh"
mkst() { perl "$top/tests/mkst.pl" "$@"; }

# rt SRC DESC [bs-split options...]: the pipeline restores SRC exactly
n=0
rt() {
	local src=$1 desc=$2; shift 2
	n=$((n + 1))
	local o="$T/rt$n"
	bs-split "$@" "$src" > "$o.raw" 2> "$o.err" &&
	    bs-encode -T 2 < "$o.raw" > "$o.enc" 2>> "$o.err" &&
	    bs-decode -T 2 < "$o.enc" > "$o.dec" 2>> "$o.err" &&
	    bs-reshard -o "$o" < "$o.dec" 2>> "$o.err"
	ok $? "$desc: split | encode | decode | reshard"
	sed 's/^/#   /' "$o.err" | head -3
	cmp -s "$o.raw" "$o.dec"; ok $? "$desc: decoded stream = split stream"
	if [ -d "$src" ]; then
		diff -r "$src" "$o" >&2; ok $? "$desc: folder restored file for file"
	else
		cmp "$src" "$o/$(basename "$src")" >&2; ok $? "$desc: file restored byte for byte"
		is "$(ls -A "$o")" "$(basename "$src")" "$desc: one file in DIR, under its name"
	fi
}

V=$T/v
mkdir -p "$V"

# ---------------------------------------------------------------- dtypes
dtypes="BOOL U8 I8 U16 I16 U32 I32 U64 I64 F16 BF16 F32 F64 C64 F8_E4M3 F8_E5M2 F8_E8M0 F4 F6_E2M3 F6_E3M2"
all=()
for d in $dtypes; do
	case $d in
	F4) shape=6,10 ;;		# even count: whole bytes
	F6_*) shape=4,12 ;;		# multiple of 4
	*) shape=7,13 ;;
	esac
	mkst "$V/$d.safetensors" "w:$d:$shape" "b:$d:4"
	rt "$V/$d.safetensors" "dtype $d"
	bs-info -t "$T/rt$n.enc" 2>&1 | grep -Eq "^w +$d "; ok $? "dtype $d: bs-info names the dtype"
	all+=("$d.w:$d:$shape")
done
mkst "$V/all.safetensors" "${all[@]}"
rt "$V/all.safetensors" "every dtype in one file"
# the real codecs see chunks of every size: a 4K chunk, thousands of elements
big=()
for d in $dtypes; do
	case $d in F4) shape=9000 ;; F6_*) shape=6000 ;; *) shape=3001 ;; esac
	big+=("$d:$d:$shape")
done
mkst --seed 7 "$V/big.safetensors" "${big[@]}"
rt "$V/big.safetensors" "every dtype, several 4K chunks each" -c 4096
for l in 1 10 19; do
	bs-encode -l $l "$T/rt$n.raw" | bs-decode | cmp -s - "$T/rt$n.raw"
	ok $? "every dtype, bs-encode -l $l round-trips"
done
for c in none zstd; do
	bs-encode --codec $c "$T/rt$n.raw" | bs-decode | cmp -s - "$T/rt$n.raw"
	ok $? "every dtype, bs-encode --codec $c round-trips"
done

# codec corner cases: special values, constant, zero, incompressible data,
# F32 that is BF16 in disguise, odd lengths at chunk ends
corner=()
for d in BF16 F16 F32 F64 C64 F8_E4M3 F8_E5M2 F8_E8M0 U8 I32; do
	for f in special zero const random; do corner+=("$d.$f:$d:2053:$f"); done
done
corner+=("f32.lowzero:F32:5000:lowzero" "f32.lowzero.odd:F32:1031:lowzero" "bf16.one:BF16:1" "f16.one:F16:1:special" "f32.one:F32:1")
mkst --seed 11 "$V/corner.safetensors" "${corner[@]}"
rt "$V/corner.safetensors" "codec corner cases (NaN, Inf, -0, subnormals, constant, zero, random)" -c 4096
for l in 1 19; do
	bs-encode -l $l -T 2 "$T/rt$n.raw" > "$T/c.bs" && bs-decode "$T/c.bs" | cmp -s - "$T/rt$n.raw"
	ok $? "codec corner cases, bs-encode -l $l round-trips"
done
bs-info "$T/rt$n.enc" > "$T/info"
grep -q 'codecs:.*none' "$T/info"; ok $? "incompressible chunks are stored (codec none)"
bs-info -t "$T/rt$n.enc" | awk '$1 == "bf16.zero" { exit !($5 < 200) }'
ok $? "a zero BF16 tensor codes small"
bs-info -t "$T/rt$n.enc" | awk '$1 ~ /random$/ && $5 > $4 + 64 { bad = 1 } END { exit bad }'
ok $? "no random tensor grows by more than a few bytes per chunk"

# ---------------------------------------------------------------- shapes
mkst "$V/empty.safetensors" "a:F32:0" "b:BF16:3,0,5" "c:F16:4" "d:I64:0,0" "e:U8:2,0"
rt "$V/empty.safetensors" "empty tensors (a zero in the shape)"
mkst "$V/empty-only.safetensors" "a:F32:0" "b:BF16:0,7"
rt "$V/empty-only.safetensors" "only empty tensors (no data at all)"
mkst "$V/scalar.safetensors" "s:F32:" "t:BF16:" "u:U8:" "v:F64:" "w:I64:5"
rt "$V/scalar.safetensors" "rank-0 scalars"
bs-decode "$T/rt$n.enc" | bs-info -t | grep -Eq '^s +F32 +\[\] '; ok $? "bs-info shows a scalar's shape as []"
mkst "$V/rank.safetensors" "r:U8:1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2,1,1,1,3"
rt "$V/rank.safetensors" "rank 25"

# ---------------------------------------------------------------- headers
mkst "$V/hlen.safetensors" "a:F32:3" "bb:F32:1"
hl=$(perl -e 'read STDIN, $b, 8; print unpack "Q<", $b' < "$V/hlen.safetensors")
[ $((hl % 8)) -ne 0 ]; ok $? "vector has a header length not a multiple of 8 ($hl)"
rt "$V/hlen.safetensors" "header length not a multiple of 8"
mkst "$V/unaligned.safetensors" "a:U8:3" "b:F32:5" "c:U8:1" "d:BF16:9" "e:F64:2"
rt "$V/unaligned.safetensors" "unaligned tensors after odd-sized U8"
mkst --meta format=pt --meta 'note=a b c' "$V/meta.safetensors" "a:BF16:10"
rt "$V/meta.safetensors" "__metadata__"
mkst --meta format=pt --pad '       ' "$V/pad.safetensors" "a:BF16:10"
rt "$V/pad.safetensors" "header padded with spaces"
mkst --pad ' \t\n\r\n  \t' "$V/ws.safetensors" "a:BF16:10" "b:U8:3"
rt "$V/ws.safetensors" "header padded with tabs, newlines, CR"
mkst --json $' {\n\t"a" : { "dtype" : "U8" , "shape" : [ 4 ] , "data_offsets" : [ 0 , 4 ] }\n}\n' --data 4 "$V/spaced.safetensors"
rt "$V/spaced.safetensors" "whitespace inside the JSON kept exactly"
mkst "$V/order.safetensors" "z:F32:2" "a:F32:2" "m:U8:2"
# the same offsets listed in another order than the data
mkst --json '{"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' --data 6 "$V/reorder.safetensors"
rt "$V/order.safetensors" "tensors named out of alphabetical order"
rt "$V/reorder.safetensors" "header order differs from data order"
mkst "$V/nul.safetensors" 'a\u0000b:F32:3' 'a:F32:2' 'x\u0000:U8:1'
rt "$V/nul.safetensors" 'tensor name holding a NUL byte (\u0000)'
mkst "$V/utf8.safetensors" $'caf\xc3\xa9.w:F32:2' 'esc\"q\\\\:U8:1' 'u\u00e9:U8:1'
rt "$V/utf8.safetensors" "names with UTF-8 and JSON escapes"
# long names: 65536 bytes is the stream's limit (BS_MAX_NAME)
long=$(printf '%65536s' '' | tr ' ' n)
mkst "$V/long.safetensors" "$long:U8:3" "b:F32:1"
rt "$V/long.safetensors" "a tensor name of 65536 bytes"
# longer names: bs-split either refuses them (exit 1, one line) or writes a
# stream that bs-decode reads (never a stream that no reader accepts)
for len in 65540 1048580; do
	perl -e '$h = "{\"" . ("n" x $ARGV[0]) . "\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}";
		print pack("Q<", length $h), $h, "abc"' $len > "$V/toolong.safetensors"
	bs-split "$V/toolong.safetensors" > "$T/toolong.bs" 2> "$T/err"; st=$?
	mapfile -t l < "$T/err"
	if [ $st -eq 0 ]; then
		bs-decode "$T/toolong.bs" > /dev/null 2> "$T/err2"
		ok $? "a tensor name of $len bytes: bs-split exits 0, so bs-decode must read its stream"
		sed 's/^/#   /' "$T/err2"
	else
		{ [ $st -eq 1 ] && [ ${#l[@]} -eq 1 ]; }; ok $? "a tensor name of $len bytes: bs-split refuses it (exit $st, one line)"
	fi
done

mkst --json '{}' --data 0 "$V/zero.safetensors"
rt "$V/zero.safetensors" 'zero-tensor file (header "{}")'
mkst --json '{"__metadata__":{"k":"v"}}   ' --data 0 "$V/metaonly.safetensors"
rt "$V/metaonly.safetensors" 'file with __metadata__ only'

# ---------------------------------------------------------------- chunks
mkst "$V/chunky.safetensors" "small:U8:100" "big:U8:20000" "bf:BF16:10000" "tail:F32:1"
rt "$V/chunky.safetensors" "tensors larger than one 4096-byte chunk" -c 4096
bs-info -t "$T/rt$n.enc" > "$T/info" 2>&1
ch=$(sed -n 's/.* \([0-9][0-9]*\) chunks$/\1/p' "$T/info")
[ "${ch:-0}" -gt 10 ]; ok $? "bs-info shows more than one chunk per big tensor ($ch chunks)"
grep -Eq '^big +U8 +\[20000\] +20000 ' "$T/info"; ok $? "bs-info -t shows the 20000-byte tensor whole"
bs-split "$V/chunky.safetensors" | bs-info | grep -Eq ' 4 chunks$'
ok $? "with the default chunk size each tensor is one chunk"
bs-split -c 4096 "$V/chunky.safetensors" | bs-encode -T 1 > "$T/e1"
bs-split -c 4096 "$V/chunky.safetensors" | bs-encode -T 2 > "$T/e2"
cmp -s "$T/e1" "$T/e2"; ok $? "-T 1 and -T 2 give the same encoded stream"
bs-split -c 4096 "$V/chunky.safetensors" | bs-encode | bs-encode | bs-decode | cmp -s - "$T/rt$n.raw"
ok $? "encoding an encoded stream again changes nothing that decode sees"

# ---------------------------------------------------------------- folders
F=$T/folder
mkdir -p "$F/sub/deeper" "$F/empty-sub"
mkst "$F/model-00001-of-00002.safetensors" "a:BF16:100,3" "b:F32:7"
mkst --seed 2 "$F/model-00002-of-00002.safetensors" "c:BF16:50"
mkst --seed 3 "$F/sub/adapter.safetensors" "lora:F16:8,8"
echo '{"model_type": "test"}' > "$F/config.json"
printf 'README\n' > "$F/README.md"
: > "$F/empty.txt"
head -c 30000 /dev/urandom > "$F/sub/deeper/tokenizer.bin"
printf 'x' > "$F/sub/one"
rmdir "$F/empty-sub"
rt "$F" "folder with extra files and subfolders" -c 4096
bs-decode "$T/rt$n.enc" | bs-info -F > "$T/info"
grep -q '^sub/deeper/tokenizer.bin ' "$T/info"; ok $? "bs-info -F lists files by their relative path"
grep -Eq '^empty.txt +blob +0 ' "$T/info"; ok $? "bs-info -F lists the empty blob"

B=$T/blobs
mkdir -p "$B"
: > "$B/empty"
rt "$B/empty" "an empty blob file alone"
head -c 10000 /dev/urandom > "$B/data.bin"
rt "$B/data.bin" "a blob file alone, several chunks" -c 4096
: > "$B/empty.safetensors"
bs-split "$B/empty.safetensors" > /dev/null 2>&1; st=$?
is "$st" 1 "an empty file named .safetensors is bad data (exit 1)"

# ---------------------------------------------------------------- stdin
bs-split < "$V/all.safetensors" | bs-encode | bs-decode | bs-reshard -o "$T/stdin1"
ok $? "bs-split < f.safetensors: pipeline runs"
is "$(ls -A "$T/stdin1")" model.safetensors "restored as model.safetensors"
cmp "$V/all.safetensors" "$T/stdin1/model.safetensors" >&2; ok $? "and byte for byte"
cat "$V/chunky.safetensors" | bs-split -c 4096 -n my.safetensors - | bs-encode | bs-reshard -o "$T/stdin2"
ok $? "bs-split -n NAME - (from a pipe): pipeline runs"
is "$(ls -A "$T/stdin2")" my.safetensors "-n NAME names the restored file"
cmp "$V/chunky.safetensors" "$T/stdin2/my.safetensors" >&2; ok $? "and byte for byte"
bs-split -n sub/dir/x.safetensors < "$V/nul.safetensors" | bs-reshard -o "$T/stdin3"
cmp -s "$V/nul.safetensors" "$T/stdin3/sub/dir/x.safetensors"; ok $? "-n with a relative path makes the folders"
# names given with -n: each either refused by bs-split (exit 2), or carried
# into a stream that bs-decode reads; unsafe ones are refused by bs-reshard
for nm in "" "$(printf '%70000s' '' | tr ' ' n)" ../up.safetensors /abs.safetensors a/../../up.safetensors ./x.safetensors a//b.safetensors a/; do
	label="-n '${nm:0:24}'$([ ${#nm} -gt 24 ] && echo "... (${#nm} bytes)")"
	bs-split -n "$nm" < "$V/scalar.safetensors" > "$T/n.bs" 2> "$T/err"; st=$?
	if [ $st -ne 0 ]; then
		is "$st" 2 "bs-split $label refuses the name: exit 2"
		continue
	fi
	bs-decode "$T/n.bs" > /dev/null 2> "$T/err2"
	ok $? "bs-split $label exits 0, so bs-decode must read what it wrote"
	[ -s "$T/err2" ] && { sed 's/^/#   /' "$T/err2"; continue; }
	rm -rf "$T/nd"; mkdir -p "$T/nd"
	bs-reshard -o "$T/nd/o" "$T/n.bs" 2> /dev/null; st=$?
	case $nm in
	*..*|/*|*/)
		is "$st" 1 "bs-reshard refuses the unsafe path of $label" ;;
	*)	[ $st -le 2 ]; ok $? "bs-reshard restores or refuses $label (exit $st, not a crash)" ;;
	esac
	is "$(find "$T/nd" "$T/up.safetensors" /abs.safetensors -type f ! -path "$T/nd/o/*" 2>/dev/null)" "" "$label: nothing written outside DIR"
done
bs-split < "$V/zero.safetensors" | bs-reshard -o "$T/stdin4"
cmp -s "$V/zero.safetensors" "$T/stdin4/model.safetensors"; ok $? "zero-tensor file on stdin"

# ---------------------------------------------------------------- concatenation
bs-split "$V/all.safetensors" | bs-encode > "$T/a.bs"
bs-split -c 4096 "$F" | bs-encode > "$T/b.bs"
cat "$T/a.bs" "$T/b.bs" | bs-decode | bs-reshard -o "$T/cat"
ok $? "cat a.bs b.bs | bs-decode | bs-reshard runs"
cmp -s "$V/all.safetensors" "$T/cat/all.safetensors"; ok $? "the first member's file is restored"
( cd "$F" && find . -type f | LC_ALL=C sort | xargs -d '\n' sha256sum ) > "$T/want"
( cd "$T/cat" && find . -type f ! -name all.safetensors | LC_ALL=C sort | xargs -d '\n' sha256sum ) > "$T/got"
cmp -s "$T/want" "$T/got"; ok $? "the second member's files are restored"
bs-info "$T/a.bs" "$T/b.bs" > /dev/null; ok $? "bs-info reads both"
cat "$T/a.bs" "$T/b.bs" | bs-info | grep -q '2 members'; ok $? "bs-info counts 2 members in the concatenation"
cat "$T/a.bs" "$T/b.bs" | bs-decode | cmp -s - <(bs-decode "$T/a.bs"; bs-decode "$T/b.bs")
ok $? "decode of a concatenation = concatenation of decodes"
cat "$T/a.bs" "$T/b.bs" "$T/a.bs" > "$T/aba.bs"
bs-decode "$T/aba.bs" > /dev/null; ok $? "bs-decode reads three members"
# two members carrying the same path: without -f, one file must not
# silently replace the other (as a file already in DIR is refused)
mkdir -p "$T/s1" "$T/s2"
mkst "$T/s1/same.safetensors" "a:U8:3"
mkst --seed 9 "$T/s2/same.safetensors" "a:U8:5"
cat <(bs-split "$T/s1/same.safetensors") <(bs-split "$T/s2/same.safetensors") > "$T/same.bs"
bs-reshard -o "$T/samedir" "$T/same.bs" 2> "$T/err"; st=$?
[ $st -ne 0 ]; ok $? "two members with the same path, no -f: bs-reshard does not exit 0 having dropped one (exit $st)"
bs-reshard -f -o "$T/samedir2" "$T/same.bs" 2> /dev/null; st=$?
if [ $st -eq 0 ]; then
	cmp -s "$T/s2/same.safetensors" "$T/samedir2/same.safetensors"; ok $? "with -f, exit 0: the last one wins"
else
	is "$(ls -A "$T/samedir2" 2>/dev/null)" "" "with -f, refused (exit $st): nothing written"
fi

# a folder with a link back up to itself: its files once, the loop passed over
mkdir -p "$T/loop/sub"; echo '{"a":1}' > "$T/loop/config.json"; echo x > "$T/loop/sub/x.txt"
ln -s .. "$T/loop/sub/up"
bs-split "$T/loop" > "$T/loop.bs"; ok $? "bs-split of a folder with a symbolic link loop runs"
is "$(bs-info -F "$T/loop.bs" | awk 'NR > 1 && NF == 5 { print $1 }' | paste -sd' ')" "config.json sub/x.txt" \
    "... and takes each file once"

# bs-info -t: names with control characters are escaped, never sent to the
# terminal as they are; the column fits the longest name, in characters
mkst "$T/names.safetensors" 'a\nb\u001b[31mred:BF16:4' "$(printf 'é%.0s' $(seq 50)):BF16:4" "y:BF16:4"
bs-split "$T/names.safetensors" | bs-encode > "$T/names.bs"
bs-info -t "$T/names.bs" > "$T/info" 2>&1
grep -q 'a\\x0ab\\x1b\[31mred ' "$T/info" && ! grep -q $'\x1b' "$T/info"
ok $? "bs-info -t escapes control characters in names"
is "$(perl -CSD -ne 'print index($_, $. == 1 ? "dtype" : "BF16"), "\n" if $. <= 4' "$T/info" | sort -u | wc -l)" 1 \
    "bs-info -t: the columns line up, a name of 50 two-byte characters counted as 50"

done_testing
