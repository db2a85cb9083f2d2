#!/usr/bin/perl
# mkst.pl - write small safetensors test vectors (for tests/cli/*.t).
#
#   mkst.pl [options] OUT [NAME:DTYPE:SHAPE ...]
#       a well-formed file: tensors in the order given, data tiled from 0;
#       SHAPE is comma-separated dims ("" for a rank-0 scalar, "0,4" empty).
#       NAME is written into the JSON as given, so JSON escapes such as
#       \u0000 work; it must not hold a colon.  NAME:DTYPE:SHAPE:FILL
#       chooses the data: weights (default: plausible values of the dtype),
#       random (random bytes), zero, const (one repeated element), special
#       (floats: NaN, infinities, -0, subnormals, every exponent), lowzero
#       (F32 whose low 16 bits are zero: BF16 in disguise), rows (F16 in
#       runs of 16 values sharing a scale, so that a value's exponent
#       predicts the next one's).
#     --meta K=V       add K:V to __metadata__ (repeatable; first in the header)
#     --pad STR        append STR to the JSON (perl escapes: '\t', '\n', ' ')
#     --seed N         seed of the pseudo-random data (default 1)
#     --json JSON      the header verbatim instead (tensor args ignored) ...
#     --data N         ... followed by N bytes of data
#     --hlen N         write N as the header length instead of the real one
#     --trunc N        drop the last N bytes of the file
#     --extra N        append N bytes after the data
#
#   mkst.pl --bf16-stream BYTES   (to stdout) one BF16 tensor "w" of BYTES
#       bytes (a multiple of 2 MiB), data made of a 1 MiB block of plausible
#       weights rotated a little at every repetition: 1 GB never on disk.
use strict;
use warnings;
use Getopt::Long;

my (@meta, $pad, $json, $data, $hlen, $trunc, $extra, $stream);
my $seed = 1;
GetOptions('meta=s' => \@meta, 'pad=s' => \$pad, 'seed=i' => \$seed,
    'json=s' => \$json, 'data=i' => \$data, 'hlen=s' => \$hlen,
    'trunc=i' => \$trunc, 'extra=i' => \$extra,
    'bf16-stream=s' => \$stream) or die "mkst.pl: bad options\n";

my %bits = (BOOL => 8, U8 => 8, I8 => 8, U16 => 16, I16 => 16, U32 => 32,
    I32 => 32, U64 => 64, I64 => 64, F16 => 16, BF16 => 16, F32 => 32,
    F64 => 64, C64 => 64, F8_E4M3 => 8, F8_E5M2 => 8, F8_E8M0 => 8, F4 => 4,
    F6_E2M3 => 6, F6_E3M2 => 6);

# deterministic pseudo-random numbers (xorshift32)
my $x = $seed * 2654435761 % 4294967296 || 1;
sub rnd {
	$x ^= ($x << 13) & 0xffffffff;
	$x ^= $x >> 17;
	$x ^= ($x << 5) & 0xffffffff;
	return $x;
}
sub gauss {	# roughly normal, small: like weights
	my $s = 0;
	$s += rnd() / 4294967296 for 1 .. 4;
	return ($s - 2) * 0.05;
}
sub bf16 { return substr(pack('f<', $_[0]), 2, 2); }

# plausible bytes of a dtype: float weights for the float types, skewed
# small integers for the rest, random bytes where the width is odd
sub fill {
	my ($dt, $n, $how) = @_;
	my $out = '';
	$how //= 'weights';
	if ($how eq 'random') {
		$out .= pack('V', rnd()) while length($out) < $n;
	} elsif ($how eq 'zero') {
		$out = "\0" x $n;
	} elsif ($how eq 'const') {
		my $e = fill($dt, 16);
		my $w = ($bits{$dt} // 8) >= 8 ? $bits{$dt} / 8 : 1;
		$out = substr($e, 0, $w) x ($n / $w + 1);
	} elsif ($how eq 'rows') {
		die "mkst.pl: rows is for F16\n" unless $dt eq 'F16';
		my $re = 12;
		for (my $i = 0; length($out) < $n; $i++) {
			$re = 4 + rnd() % 20 if $i % 16 == 0;
			my $r = rnd();
			my $e = $re - $r % 3;
			$out .= pack('v', (($r >> 31) << 15) | ($e << 10) | (($r >> 8) & 0x3ff));
		}
	} elsif ($how eq 'lowzero') {
		$out .= "\0\0" . bf16(gauss()) while length($out) < $n;
	} elsif ($how eq 'special') {
		my $w = ($bits{$dt} // 8) / 8;
		my @v;
		if ($w == 2) {	# every 16-bit exponent pattern, both signs, odd mantissas
			for my $hi (0 .. 255) { push @v, pack('v', ($hi << 8) | ($_ * 37 & 0xff)) for 0 .. 3 }
		} elsif ($w == 4) {
			push @v, pack('f<', $_) for (0.0, -0.0, 9**9**9, -9**9**9, 1e-40, -1e-45, 3.4e38);
			push @v, pack('V', 0x7fc00000), pack('V', 0xffc00001), pack('V', 0x7f800001);
			for my $e (0 .. 255) { push @v, pack('V', ($e << 23) | (rnd() & 0x7fffff) | ((rnd() & 1) << 31)) }
		} elsif ($w == 8) {
			push @v, pack('d<', $_) for (0.0, -0.0, 9**9**9, -9**9**9, 5e-324, 1.7e308);
			push @v, pack('VV', 0, 0x7ff80000), pack('VV', 1, 0xfff00000);
		} else {
			push @v, chr($_) for 0 .. 255;
		}
		$out .= $v[rnd() % @v] while length($out) < $n;
		$out = join('', @v) . $out if length(join('', @v)) <= $n;
	} elsif ($dt eq 'BF16') {
		$out .= bf16(gauss()) while length($out) < $n;
	} elsif ($dt eq 'F32' || $dt eq 'C64') {
		$out .= pack('f<', gauss()) while length($out) < $n;
	} elsif ($dt eq 'F64') {
		$out .= pack('d<', gauss()) while length($out) < $n;
	} elsif ($dt eq 'F16') {
		while (length($out) < $n) {
			my $r = rnd();
			my $e = 8 + ($r >> 11) % 8;	# exponents near 1/8 .. 1
			$out .= pack('v', (($r >> 31) << 15) | ($e << 10) | ($r & 0x3ff));
		}
	} elsif ($dt eq 'BOOL') {
		$out .= chr(rnd() & 1) while length($out) < $n;
	} elsif ($dt =~ /^F8/) {
		$out .= chr(0x30 + (rnd() % 24) ^ ((rnd() & 1) << 7)) while length($out) < $n;
	} else {
		$out .= pack('V', rnd()) while length($out) < $n;
	}
	return substr($out, 0, $n);
}

if (defined $stream) {
	my $total = $stream;
	$total = $1 * 1048576 if $stream =~ /^(\d+)M$/;
	die "mkst.pl: --bf16-stream wants a multiple of 2 MiB\n" if $total % 2097152;
	my $n = $total / 2;
	my $h = "{\"w\":{\"dtype\":\"BF16\",\"shape\":[$n],\"data_offsets\":[0,$total]}}";
	$h .= ' ' x ((8 - length($h) % 8) % 8);
	binmode STDOUT;
	print pack('Q<', length $h), $h;
	my $block = fill('BF16', 1048576);
	for my $i (0 .. $total / 1048576 - 1) {
		my $k = ($i * 2 * 4099) % 1048576;
		print substr($block, $k), substr($block, 0, $k);
	}
	close STDOUT or die "mkst.pl: write: $!\n";
	exit 0;
}

my $out = shift @ARGV or die "usage: mkst.pl [options] OUT [NAME:DTYPE:SHAPE ...]\n";
my $body = '';
if (!defined $json) {
	my @ent;
	if (@meta) {
		push @ent, '"__metadata__":{' . join(',', map {
			my ($k, $v) = split /=/, $_, 2; "\"$k\":\"$v\"" } @meta) . '}';
	}
	for my $t (@ARGV) {
		my ($name, $dt, $shape, $how) = $t =~ /^([^:]*):([^:]+):([\d,]*)(?::(\w+))?$/
		    or die "mkst.pl: bad tensor '$t'\n";
		die "mkst.pl: unknown dtype $dt\n" unless $bits{$dt};
		my @d = length $shape ? split(/,/, $shape) : ();
		my $nb = $bits{$dt};
		$nb *= $_ for @d;
		die "mkst.pl: $name: not whole bytes\n" if $nb % 8;
		my $b = $nb / 8;
		my $at = length $body;
		$body .= substr(fill($dt, $b, $how), 0, $b);
		push @ent, "\"$name\":{\"dtype\":\"$dt\",\"shape\":[" . join(',', @d) .
		    "],\"data_offsets\":[$at," . ($at + $b) . "]}";
	}
	$json = '{' . join(',', @ent) . '}';
} else {
	$body = fill('U8', $data // 0);
}
if (defined $pad) {
	(my $p = $pad) =~ s/\\t/\t/g;
	$p =~ s/\\n/\n/g;
	$p =~ s/\\r/\r/g;
	$json .= $p;
}
my $file = pack('Q<', defined $hlen ? $hlen : length $json) . $json . $body;
$file = substr($file, 0, length($file) - $trunc) if $trunc;
$file .= fill('U8', $extra) if $extra;
open my $fh, '>', $out or die "mkst.pl: $out: $!\n";
binmode $fh;
print $fh $file;
close $fh or die "mkst.pl: $out: $!\n";
