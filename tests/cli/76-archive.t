#!/bin/bash
# bs-split reads tar, tar.gz, tar.zst, tar.xz and zip bundles, from a file
# and from a pipe, as it reads the folder they were made of; unsafe
# members are refused; input that is no archive is one safetensors file.
. "$(dirname "$0")/../lib.sh"

M=$BS_DATA/models/stories260k
if [ ! -d "$M" ]; then
	echo "1..0 # skip no sample model at $BS_DATA"
	exit 0
fi
P=$(dirname "$M"); N=$(basename "$M")

bs-split "$M" > "$T/folder.bs"; ok $? "the folder splits"

# archives of the folder: top folder N/ (stripped), and ./ paths
tar -C "$P" --sort=name -cf "$T/m.tar" "$N"
tar -C "$M" --sort=name -cf "$T/dot.tar" .
gzip -c "$T/m.tar" > "$T/m.tar.gz"
zstd -q -c "$T/m.tar" > "$T/m.tar.zst"
xz -c "$T/m.tar" > "$T/m.tar.xz"
(cd "$P" && zip -qr "$T/m.zip" "$N")
for a in m.tar dot.tar m.tar.gz m.tar.zst m.tar.xz; do
	bs-split "$T/$a" | cmp -s - "$T/folder.bs"; ok $? "$a: the stream equals the folder's, byte for byte"
	cat "$T/$a" | bs-split | cmp -s - "$T/folder.bs"; ok $? "$a on a pipe: the same"
done
for a in m.tar m.tar.gz m.tar.zst m.tar.xz m.zip; do
	rm -rf "$T/out"
	bs-split "$T/$a" | bs-encode | bs-decode | bs-reshard -o "$T/out"
	st=("${PIPESTATUS[@]}"); is "${st[*]}" "0 0 0 0" "$a: split | encode | decode | reshard"
	diff -r "$M" "$T/out" >&2; ok $? "$a: restores the folder identically"
	rm -rf "$T/out"
	cat "$T/$a" | bs-split | bs-encode | bs-decode | bs-reshard -o "$T/out"
	diff -r "$M" "$T/out" >&2; ok $? "$a from a pipe: restores the folder identically"
done
# zip written to a pipe records no sizes in its local headers
rm -rf "$T/out"
(cd "$P" && zip -qr - "$N") | bs-split | bs-reshard -o "$T/out"
st=("${PIPESTATUS[@]}"); is "${st[*]}" "0 0 0" "a zip streamed by zip - (sizes unknown) splits"
diff -r "$M" "$T/out" >&2; ok $? "and restores the folder identically"
# one safetensors file in a tar.zst, and on a pipe without an archive
f=$BS_DATA/bench/silero-vad-v5.bf16.safetensors
if [ -f "$f" ]; then
	tar -C "$(dirname "$f")" -c "$(basename "$f")" | zstd -q > "$T/one.tar.zst"
	bs-split "$T/one.tar.zst" | cmp -s - <(bs-split "$f"); ok $? "a single file in a tar.zst splits as the file"
	bs-split -n "$(basename "$f")" < "$f" | cmp -s - <(bs-split "$f"); ok $? "a safetensors file on stdin is still one (no archive)"
fi

# unsafe and odd members
/usr/bin/python3 - "$T" <<'PYEOF'
import io, sys, tarfile
t = sys.argv[1]
def mk(name, members):
    with tarfile.open(t + '/' + name, 'w') as tf:
        for n, kind in members:
            ti = tarfile.TarInfo(n)
            if kind == 'sym':
                ti.type = tarfile.SYMTYPE; ti.linkname = 'config.json'; tf.addfile(ti)
            else:
                ti.size = 3; tf.addfile(ti, io.BytesIO(b'abc'))
mk('abs.tar', [('/etc/evil', 'f')])
mk('dotdot.tar', [('a/../../evil', 'f')])
mk('sym.tar', [('config.json', 'f'), ('link.json', 'sym')])
mk('dup.tar', [('a.txt', 'f'), ('a.txt', 'f')])
PYEOF
expect_fail 1 "$T/x.bs" "an absolute member path is refused" -- bs-split -o "$T/x.bs" "$T/abs.tar"
expect_fail 1 "$T/x.bs" "a .. member path is refused" -- bs-split -o "$T/x.bs" "$T/dotdot.tar"
grep -q "unsafe member path" "$T/stderr"; ok $? "with a message naming it"
expect_fail 1 "$T/x.bs" "a symbolic link member is refused" -- bs-split -o "$T/x.bs" "$T/sym.tar"
expect_fail 1 "$T/x.bs" "a path twice is refused" -- bs-split -o "$T/x.bs" "$T/dup.tar"
cat "$T/abs.tar" | bs-split > /dev/null 2>&1; is "$?" 1 "an unsafe path on a pipe too"
# a corrupt compressed archive is an error, not a shorter stream
head -c 100000 "$T/m.tar.zst" > "$T/cut.tar.zst"
expect_fail 1 "$T/x.bs" "a truncated tar.zst is an error" -- bs-split -o "$T/x.bs" "$T/cut.tar.zst"

# a plain text file is not an archive (libarchive's mtree would read a word
# list as empty files): it travels whole, named or on stdin as a blob
printf '[PAD]\n[UNK]\nthe\nof\n' > "$T/vocab.txt"
rm -rf "$T/v"
bs-split "$T/vocab.txt" | bs-encode | bs-reshard -o "$T/v" && cmp -s "$T/vocab.txt" "$T/v/vocab.txt"
ok $? "a word list given to bs-split comes back whole"

done_testing
