#!/bin/bash
# The real weights under $BS_DATA round-trip: every restored file has the
# sha256 of its original, the decoded stream is the split stream byte for
# byte, and the thread count does not change the encoded stream.
. "$(dirname "$0")/../lib.sh"

if [ ! -d "$BS_DATA/models" ] && [ ! -d "$BS_DATA/bench" ]; then
	echo "1..0 # skip no real weights at $BS_DATA"
	exit 0
fi

# sums DIR: "sha256  relative/path" for every file, sorted
sums() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs -d '\n' sha256sum); }

srcs=()
for m in "$BS_DATA"/models/*/; do [ -d "$m" ] && srcs+=("${m%/}"); done
for f in "$BS_DATA"/bench/*.safetensors; do
	[ -f "$f" ] || continue
	# the sanitizer run leaves out the largest bench files
	if [ -n "$BS_QUICK" ] && [ "$(stat -c %s "$f")" -gt 10000000 ]; then
		diag "BS_QUICK: skipping $(basename "$f")"
		continue
	fi
	srcs+=("$f")
done
[ ${#srcs[@]} -gt 0 ]; ok $? "found ${#srcs[@]} models and files under $BS_DATA"

i=0
for src in "${srcs[@]}"; do
	i=$((i + 1))
	name=$(basename "$src")
	w="$T/$i"
	mkdir -p "$w"

	bs-split "$src" > "$w/raw.bs"; ok $? "$name: bs-split"
	bs-encode -T 2 < "$w/raw.bs" > "$w/enc.bs"; ok $? "$name: bs-encode -T 2"
	bs-encode -T 1 "$w/raw.bs" > "$w/enc1.bs"; ok $? "$name: bs-encode -T 1"
	cmp "$w/enc1.bs" "$w/enc.bs" >&2; ok $? "$name: -T 1 and -T 2 give the same encoded stream"
	bs-decode -T 2 < "$w/enc.bs" > "$w/dec.bs"; ok $? "$name: bs-decode -T 2"
	cmp "$w/raw.bs" "$w/dec.bs" >&2; ok $? "$name: decoded stream is the split stream byte for byte"
	bs-decode -T 1 "$w/enc.bs" | cmp - "$w/raw.bs" >&2; ok $? "$name: bs-decode -T 1 gives it too"

	# the whole pipeline, no file in between
	bs-split "$src" | bs-encode | bs-decode | bs-reshard -o "$w/out"
	st=("${PIPESTATUS[@]}")
	is "${st[*]}" "0 0 0 0" "$name: split | encode | decode | reshard exits 0 everywhere"

	# bs-reshard straight from the encoded stream, and from the raw one
	bs-reshard -o "$w/out2" "$w/enc.bs"; ok $? "$name: bs-reshard -o reads an encoded stream"
	bs-reshard -o "$w/out3" < "$w/raw.bs"; ok $? "$name: bs-reshard -o reads a raw stream on stdin"

	if [ -d "$src" ]; then
		sums "$src" > "$w/want"
	else
		(cd "$(dirname "$src")" && sha256sum "./$name") > "$w/want"
	fi
	for o in out out2 out3; do
		sums "$w/$o" > "$w/got" 2>/dev/null
		cmp -s "$w/want" "$w/got"; ok $? "$name: $o holds the same files with the same sha256"
		[ $? -eq 0 ] || diff "$w/want" "$w/got" | head -5 | sed 's/^/#   /'
	done
	if [ -f "$src" ]; then
		cmp "$src" "$w/out/$name" >&2; ok $? "$name: a single file comes back under its own name"
		is "$(ls -A "$w/out")" "$name" "$name: and nothing else is in DIR"
	fi
	rm -rf "$w"
done

# two models in one stream: cat of two encoded streams restores both
m=("$BS_DATA"/models/*/)
b=("$BS_DATA"/bench/*.safetensors)
if [ -d "${m[0]}" ] && [ -f "${b[0]}" ]; then
	bs-split "${m[0]%/}" | bs-encode > "$T/a.bs"
	bs-split "${b[-1]}" | bs-encode > "$T/b.bs"
	cat "$T/a.bs" "$T/b.bs" | bs-reshard -o "$T/cat"; ok $? "cat a.bs b.bs | bs-reshard restores"
	n=$(ls -A "$T/cat" | wc -l)
	is "$n" "$(( $(ls -A "${m[0]}" | wc -l) + 1 ))" "both members' files are there"
	rm -rf "$T/cat" "$T/a.bs" "$T/b.bs"
fi

# every SIMD path writes and reads the same bytes (BS_SIMD caps the path;
# a CPU without the instructions runs the same path each time)
for f in "$BS_DATA"/bench/faceres.bf16.safetensors "$BS_DATA"/bench/faceres.f16.safetensors; do
	[ -f "$f" ] || continue
	bs-split "$f" > "$T/simd.raw"
	BS_SIMD=none bs-encode "$T/simd.raw" > "$T/none.bs"
	for lvl in avx2 any; do
		BS_SIMD=$lvl bs-encode "$T/simd.raw" | cmp -s - "$T/none.bs"
		ok $? "$(basename "$f"): bs-encode with BS_SIMD=$lvl writes the bytes of the portable coder"
		BS_SIMD=$lvl bs-decode "$T/none.bs" | cmp -s - "$T/simd.raw"
		ok $? "$(basename "$f"): bs-decode with BS_SIMD=$lvl restores them"
	done
	rm -f "$T/simd.raw" "$T/none.bs"
done

done_testing
