#!/bin/bash
# bs-ecc: parity that old readers skip, random damage repaired byte for
# byte within the limits (at most M lost blocks per group), exit 1 and
# nothing written beyond them; sidecar files; concatenation; both backends.
. "$(dirname "$0")/../lib.sh"

B=4096 K=4 M=2
rounds=40
[ -n "$BS_QUICK" ] && rounds=15

bs-split "$BS_DATA/models/stories260k" | bs-encode > "$T/s.bs"; ok $? "made a test stream"
bs-ecc -k $K -m $M --block 4K "$T/s.bs" > "$T/p.bs"; ok $? "bs-ecc -k $K -m $M --block 4K"
[ "$(wc -c < "$T/p.bs")" -gt "$(wc -c < "$T/s.bs")" ]; ok $? "the protected stream is larger"
bs-info "$T/p.bs" > /dev/null; ok $? "bs-info reads the protected stream"
bs-decode "$T/s.bs" > "$T/s.raw" && bs-decode "$T/p.bs" > "$T/p.raw"; ok $? "bs-decode reads the protected stream"
cmp -s "$T/s.raw" "$T/p.raw"; ok $? "it decodes to what the unprotected stream decodes to"
bs-ecc --check "$T/p.bs" > "$T/out"; is $? 0 "--check of an intact stream exits 0"
grep -q clean "$T/out"; ok $? "--check says clean"
bs-ecc --repair "$T/p.bs" > "$T/r.bs"; is $? 0 "--repair of an intact stream exits 0"
cmp -s "$T/r.bs" "$T/s.bs"; ok $? "--repair of an intact stream gives the original"
bs-ecc < "$T/p.bs" > "$T/pp.bs" 2> "$T/err"; ok $? "protecting a protected stream again"
bs-ecc -r < "$T/pp.bs" | cmp -s - "$T/s.bs"; ok $? "... drops the old parity: repair gives the original"
bs-ecc -k $K -m $M --block 4K "$T/s.bs" | cmp -s - "$T/p.bs"; ok $? "the same input gives the same bytes"
bs-ecc --list "$T/p.bs" > "$T/map"; ok $? "--list"

# dmg.pl SEED IN OUT MAP: damage IN into OUT at random; print the kind and
# whether repair must succeed (ok) or fail (fail), from the block map.
cat > "$T/dmg.pl" <<'EOF'
use strict; use warnings;
my ($seed, $in, $out, $map, $B, $M) = @ARGV;
srand($seed);
open my $f, '<:raw', $in or die; local $/; my $d = <$f>; close $f;
my $n = length $d;
my @u;		# [kind, member, group, pos, len]
open my $m, '<', $map or die;
for (split /\n/, <$m>) {
	my @w = split / /;
	push @u, ['d', $w[1], $w[2], $w[4], $w[5]] if $w[0] eq 'data';
	push @u, ['p', $w[1], $w[2], $w[4], $w[5]] if $w[0] eq 'parity';
	push @u, ['r', $w[1], -1, $w[3], $w[4]] if $w[0] eq 'dir';
}
my @hit;	# damaged byte ranges of the original file [a, z)
my $kind = int(rand(6));
my $o = $d;
my $what;
if ($kind == 0) {		# bit flips
	my $k = 1 + int(rand(5));
	for (1 .. $k) {
		my $p = int(rand($n));
		substr($o, $p, 1) = chr(ord(substr($o, $p, 1)) ^ (1 << int(rand(8))));
		push @hit, [$p, $p + 1];
	}
	$what = "$k bit flips";
} elsif ($kind == 1 || $kind == 2) {	# zeroed or garbage range
	my $len = 1 + int(rand($M * $B + $B));
	my $p = int(rand($n - $len));
	my $bytes = $kind == 1 ? "\0" x $len : join('', map { chr(int(rand(256))) } 1 .. $len);
	for my $i (0 .. $len - 1) {
		push @hit, [$p + $i, $p + $i + 1] if substr($o, $p + $i, 1) ne substr($bytes, $i, 1);
	}
	substr($o, $p, $len) = $bytes;
	$what = ($kind == 1 ? "zeroed" : "garbage") . " $len bytes at $p";
} elsif ($kind == 3) {		# truncated
	my $len = 1 + int(rand($n / 2));
	$o = substr($o, 0, $n - $len);
	push @hit, [$n - $len, $n];
	$what = "last $len bytes cut off";
} else {			# a block (or less) missing from the middle
	my $len = $kind == 4 ? $B : 1 + int(rand($B));
	my $p = int(rand($n - $len));
	substr($o, $p, $len) = '';
	push @hit, [$p, $p + $len];
	$what = "$len bytes at $p missing";
}
my (%lost, %rec, %groups);
for my $x (@u) {
	my ($k, $mem, $g, $a, $len) = @$x;
	my $h = 0;
	for my $r (@hit) { $h = 1 if $r->[0] < $a + $len && $a < $r->[1]; }
	$groups{"$mem/$g"} = 1 if $g >= 0;
	$lost{"$mem/$g"}++ if $h && $g >= 0;
	$rec{"$mem/$g"} = 1 if !$h && $k eq 'p';
	$rec{"$mem/all"} = 1 if !$h && $k eq 'r';
}
my $verdict = 'ok';
for my $g (keys %groups) {
	my ($mem) = split m{/}, $g;
	$verdict = 'fail' if ($lost{$g} // 0) > $M || !($rec{$g} || $rec{"$mem/all"});
}
open my $w, '>:raw', $out or die; print $w $o; close $w;
print "$verdict $what\n";
EOF

nok=0 nfail=0
for r in $(seq 1 $rounds); do
	s=$((1000 + r))
	read -r want what < <(perl "$T/dmg.pl" $s "$T/p.bs" "$T/d.bs" "$T/map" $B $M)
	rm -f "$T/o.bs"
	bs-ecc --repair -o "$T/o.bs" "$T/d.bs" 2> "$T/err"; st=$?
	bs-ecc --check "$T/d.bs" > "$T/chk" 2>&1; cst=$?
	if [ "$want" = ok ]; then
		nok=$((nok + 1))
		[ $st -eq 0 ] && cmp -s "$T/o.bs" "$T/s.bs"; ok $? "round $r ($what): repaired byte for byte"
		[ $? -eq 0 ] || { diag "seed $s"; sed 's/^/#   /' "$T/err" | head -5; }
		[ $cst -eq 1 ] && grep -q 'repairable' "$T/chk" || cmp -s "$T/d.bs" "$T/p.bs"
		ok $? "round $r: --check says damaged, repairable"
	else
		nfail=$((nfail + 1))
		[ $st -eq 1 ] && [ ! -e "$T/o.bs" ] && grep -q 'cannot be recovered\|no intact parity' "$T/err"
		ok $? "round $r ($what): beyond the limits: exit 1, nothing written, says what is lost"
		[ $? -eq 0 ] || { diag "seed $s (status $st)"; sed 's/^/#   /' "$T/err" | head -5; }
		[ $cst -eq 1 ]; ok $? "round $r: --check exits 1"
	fi
done
diag "$nok rounds within the limits, $nfail beyond"
[ $nok -gt 0 ]; ok $? "some rounds were within the limits"

# on stdout, nothing at all when repair fails
cp "$T/p.bs" "$T/cut.bs"
dd if=/dev/zero of="$T/cut.bs" bs=1 seek=100000 count=20000 conv=notrunc 2>/dev/null
bs-ecc -r "$T/cut.bs" > "$T/o.bs" 2> "$T/err"; st=$?
is $st 1 "20000 bytes zeroed (5 blocks of a group): exit 1"
[ ! -s "$T/o.bs" ]; ok $? "... and nothing on stdout"
grep -q 'bytes [0-9]*-[0-9]* cannot be recovered' "$T/err"; ok $? "... naming the byte ranges lost"

# a whole block gone, a range zeroed: the named damage kinds, in every place
for p in 0 50000 200000 360000 400000 500000; do
	{ head -c $p "$T/p.bs"; tail -c +$((p + B + 1)) "$T/p.bs"; } > "$T/d.bs"
	bs-ecc -r "$T/d.bs" 2>/dev/null | cmp -s - "$T/s.bs"; ok $? "a block missing at $p: repaired"
done
sz=$(wc -c < "$T/p.bs")
for c in 1 4096 8192 100000; do
	head -c $((sz - c)) "$T/p.bs" > "$T/d.bs"
	bs-ecc -r "$T/d.bs" 2>/dev/null | cmp -s - "$T/s.bs"; ok $? "the last $c bytes cut off: repaired"
done

# concatenation: two protected streams repair as two
bs-split "$BS_DATA/models/stories260k" > "$T/s2.bs"
bs-ecc -k $K -m $M --block 4K "$T/s2.bs" > "$T/p2.bs"
cat "$T/p.bs" "$T/p2.bs" > "$T/cat.bs"
bs-info "$T/cat.bs" > /dev/null; ok $? "bs-info reads two protected streams joined by cat"
cat "$T/s.bs" "$T/s2.bs" > "$T/cat-orig.bs"
bs-ecc -r "$T/cat.bs" | cmp -s - "$T/cat-orig.bs"; ok $? "cat of two protected streams repairs to cat of the originals"
n1=$(wc -c < "$T/p.bs")
cp "$T/cat.bs" "$T/d.bs"
printf '\0\0\0\0\0\0\0\0' | dd of="$T/d.bs" bs=1 seek=$((n1 + 30000)) conv=notrunc 2>/dev/null
printf '\0\0\0\0\0\0\0\0' | dd of="$T/d.bs" bs=1 seek=1000 conv=notrunc 2>/dev/null
bs-ecc -r "$T/d.bs" 2> "$T/err" | cmp -s - "$T/cat-orig.bs"; ok $? "damage in both members of a cat: repaired"
grep -q 'member 2' "$T/err"; ok $? "... saying which member"
{ cat "$T/p.bs"; head -c 70000 "$T/p2.bs"; tail -c +$((70000 + B + 1)) "$T/p2.bs"; } > "$T/d.bs"
bs-ecc -r "$T/d.bs" 2>/dev/null | cmp -s - "$T/cat-orig.bs"; ok $? "a block missing in the second member of a cat: repaired"
cat "$T/p.bs" "$T/s2.bs" > "$T/d.bs"
rm -f "$T/o.bs"
bs-ecc -r -o "$T/o.bs" "$T/d.bs" 2> "$T/err"; st=$?
[ $st -eq 1 ] && [ ! -e "$T/o.bs" ]; ok $? "an unprotected stream after a protected one: exit 1, nothing written"

# sidecar
bs-ecc -k $K -m $M --block 4K --sidecar "$T/side.par" "$T/s.bs" > "$T/out"; ok $? "--sidecar"
[ ! -s "$T/out" ]; ok $? "--sidecar writes nothing on stdout"
bs-info "$T/side.par" > /dev/null; ok $? "the sidecar is a stream of its own"
bs-ecc --check --sidecar "$T/side.par" "$T/s.bs" > /dev/null; is $? 0 "--check --sidecar of the intact stream exits 0"
cp "$T/s.bs" "$T/d.bs"
dd if=/dev/urandom of="$T/d.bs" bs=1 seek=120000 count=6000 conv=notrunc 2>/dev/null
bs-ecc --check --sidecar "$T/side.par" "$T/d.bs" > /dev/null; is $? 1 "--check --sidecar of a damaged stream exits 1"
bs-ecc -r --sidecar "$T/side.par" "$T/d.bs" 2>/dev/null | cmp -s - "$T/s.bs"; ok $? "--repair --sidecar: 6000 bytes of garbage"
{ head -c 77777 "$T/s.bs"; tail -c +$((77777 + B + 1)) "$T/s.bs"; } > "$T/d.bs"
bs-ecc -r -s "$T/side.par" "$T/d.bs" 2>/dev/null | cmp -s - "$T/s.bs"; ok $? "--repair --sidecar: a block missing"
head -c $(( $(wc -c < "$T/s.bs") - 3000 )) "$T/s.bs" > "$T/d.bs"
bs-ecc -r -s "$T/side.par" "$T/d.bs" 2>/dev/null | cmp -s - "$T/s.bs"; ok $? "--repair --sidecar: the end cut off"
cp "$T/side.par" "$T/dside.par"
dd if=/dev/zero of="$T/dside.par" bs=1 seek=5000 count=3000 conv=notrunc 2>/dev/null
bs-ecc -r -s "$T/dside.par" "$T/s.bs" 2>/dev/null | cmp -s - "$T/s.bs"; ok $? "--repair --sidecar with a damaged sidecar"
bs-ecc -r "$T/side.par" > /dev/null 2> "$T/err"; is $? 1 "a sidecar given as the stream: exit 1"
grep -q -- --sidecar "$T/err"; ok $? "... saying to use --sidecar"

# both backends, each recorded and used again for repair
for be in isa_l_rs_cauchy liberasurecode_rs_vand; do
	if ! bs-ecc --backend $be -k 3 -m 3 --block 1K "$T/s.bs" > "$T/b.bs" 2> "$T/err"; then
		grep -q 'not available' "$T/err"; ok $? "$be: not available here, and said so"
		continue
	fi
	bs-ecc --list "$T/b.bs" | sed -n 1p | grep -q "backend $be"; ok $? "$be: recorded in the parity frames"
	cp "$T/b.bs" "$T/d.bs"
	dd if=/dev/zero of="$T/d.bs" bs=1 seek=33333 count=2500 conv=notrunc 2>/dev/null
	bs-ecc -r "$T/d.bs" 2>/dev/null | cmp -s - "$T/s.bs"; ok $? "$be: 2500 zeroed bytes repaired with M=3, 1K blocks"
done

# the default block of a small member: one group, not M MiB of parity
sz=$(stat -c %s "$T/s.bs")
bs-ecc "$T/s.bs" > "$T/dflt.bs"; ok $? "bs-ecc at the defaults"
psz=$(stat -c %s "$T/dflt.bs")
[ "$psz" -lt $((sz + 3 * 65536 + sz / 4)) ]; ok $? "a small member costs M blocks of 64 KiB or of its size over K ($sz -> $psz bytes)"
cat "$T/s.bs" | bs-ecc | cmp -s - "$T/dflt.bs"; ok $? "the same bytes from a pipe"
bs-ecc -b 1M "$T/s.bs" > "$T/big.bs"
[ "$(stat -c %s "$T/big.bs")" -gt $((2 << 20)) ]; ok $? "-b 1M: two 1 MiB parity blocks for M = 2"
bs-ecc -r "$T/dflt.bs" 2>/dev/null | bs-ecc | cmp -s - "$T/dflt.bs"; ok $? "repaired and protected again: the same bytes"
dd if=/dev/zero of="$T/dflt.bs" bs=1 seek=$((sz / 2)) count=3000 conv=notrunc 2>/dev/null
bs-ecc -r "$T/dflt.bs" 2>/dev/null | cmp -s - "$T/s.bs"; ok $? "the default small-file protection repairs 3000 zeroed bytes"

# damage to the parity region alone: the data is whole, the file is not
head -c -1 "$T/p.bs" > "$T/cut1.bs"
bs-ecc -c "$T/cut1.bs" > "$T/out" 2>&1; st=$?
is $st 1 "--check of a protected stream cut by one byte (its last directory copy): exit 1"
grep -q "damaged, repairable" "$T/out" && grep -q "one copy of the parity directory" "$T/out"; ok $? "... damaged, repairable: one directory copy lost"
bs-ecc -r "$T/cut1.bs" 2>/dev/null | cmp -s - "$T/s.bs"; ok $? "... and --repair gives the stream"

# usage
for bad in "-k 0" "-m 0" "-k 30 -m 5" "--block 100" "--block 0" "--block 1G" "--backend nosuch" "-k x" "-r -c"; do
	bs-ecc $bad -o "$T/u.bs" "$T/s.bs" > /dev/null 2> "$T/err"; st=$?
	[ $st -eq 2 ] && [ -s "$T/err" ] && [ ! -e "$T/u.bs" ]; ok $? "bs-ecc $bad: exit 2 with a message, nothing written"
done
bs-ecc -r "$T/s.bs" > "$T/o.bs" 2> "$T/err"; st=$?
[ $st -eq 1 ] && [ ! -s "$T/o.bs" ]; ok $? "--repair of an unprotected stream: exit 1, nothing written"
head -c 1000 "$T/s.bs" | bs-ecc > "$T/o.bs" 2>/dev/null; st=$?
is $st 1 "protecting a truncated stream: exit 1"
done_testing
