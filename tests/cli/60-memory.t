#!/bin/bash
# Bounded memory: a ~1 GB tensor streams through bs-split | bs-encode |
# bs-decode in a peak RSS under 100 MB per program.  The input is made on
# the fly (never on disk) by tests/mkst.pl --bf16-stream; BS_QUICK: 200 MB.
. "$(dirname "$0")/../lib.sh"

TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
	echo "1..1"
	echo "ok 1 # skip no /usr/bin/time (Debian package time)"
	exit 0
fi
size=1024M
[ -n "$BS_QUICK" ] && size=200M
limit=100000	# KiB
threads=4	# the same bound on any machine (the default is all cores)
# AddressSanitizer's shadow memory and quarantine (256 MB) measure the
# sanitizer, not the program: there the round trip runs, the bound is skipped
asan=
grep -qa __asan_init "$BS_BIN/bs-encode" && asan=1
rsscheck() {	# rsscheck NAME FILE
	local rss; rss=$(tail -1 "$2")
	if [ -n "$asan" ]; then
		echo "ok $((_n += 1)) # skip $1 peak RSS ${rss} KiB: an AddressSanitizer build"
		return
	fi
	[ -n "$rss" ] && [ "$rss" -lt $limit ]; ok $? "$1 peak RSS ${rss} KiB < $limit KiB"
}

# split | encode | decode, the raw stream's and the decoded stream's sha256
# taken on the way, each program's peak RSS in KiB into $T/*.rss
mkfifo "$T/rawfifo"
sha256sum < "$T/rawfifo" > "$T/raw.sum" &
sumpid=$!
mkfifo "$T/encfifo"
wc -c < "$T/encfifo" > "$T/enc.bytes" &
wcpid=$!
perl "$top/tests/mkst.pl" --bf16-stream $size |
    $TIME -f %M -o "$T/split.rss" bs-split - |
    tee "$T/rawfifo" |
    $TIME -f %M -o "$T/encode.rss" bs-encode -T $threads |
    tee "$T/encfifo" |
    $TIME -f %M -o "$T/decode.rss" bs-decode -T $threads |
    sha256sum > "$T/dec.sum"
st=("${PIPESTATUS[@]}")
wait $sumpid $wcpid
is "${st[*]}" "0 0 0 0 0 0 0" "mkst | bs-split - | bs-encode | bs-decode of a $size BF16 tensor: all exit 0"
is "$(cut -d' ' -f1 "$T/dec.sum")" "$(cut -d' ' -f1 "$T/raw.sum")" "the decoded stream is the split stream (sha256)"
diag "encoded: $(cat "$T/enc.bytes" 2>/dev/null) bytes"
for p in split encode decode; do
	rsscheck bs-$p "$T/$p.rss"
done

# bs-decode of a stream from a file, default threads, and bs-info, bs-reshard
# on a smaller stream that is kept: their RSS too
perl "$top/tests/mkst.pl" --bf16-stream 64M | bs-split - | bs-encode -T $threads > "$T/s.bs"
$TIME -f %M -o "$T/info.rss" bs-info "$T/s.bs" > /dev/null; ok $? "bs-info of a 64 MB stream"
rsscheck bs-info "$T/info.rss"
$TIME -f %M -o "$T/reshard.rss" bs-reshard -o "$T/out" "$T/s.bs"; ok $? "bs-reshard of a 64 MB stream"
rsscheck bs-reshard "$T/reshard.rss"
perl "$top/tests/mkst.pl" --bf16-stream 64M | cmp -s - "$T/out/model.safetensors"; ok $? "and the restored file is the input"

done_testing
