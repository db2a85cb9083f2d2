#!/usr/bin/perl
# badserver.pl - a tiny scriptable HTTP server that misbehaves on demand,
# for tests/cli/95-fetch.t.  One connection at a time, one answer each
# (Connection: close).
#
#   badserver.pl ROOT PORTFILE LOGFILE
#
# Serves ROOT/PATH as /m/OPTS/PATH, where OPTS is "-" or a comma-separated
# list of:
#   drop=N      send only N bytes of each body, then cut the connection
#   drop1=N     the same for the first answer for this URL only
#   norange     ignore Range (always 200 with the whole file)
#   badrange    answer 206 with a Content-Range starting one byte late
#   e429=K      answer the first K requests for this URL with 429, Retry-After: 1
#   e503=K      answer the first K requests for this URL with 503
#   redirect    answer 302 to the same OPTS without "redirect", announcing
#               the sha256 in X-Linked-Etag (as the Hugging Face hub does)
#   badsha      announce a wrong sha256
# Without redirect the sha256 goes in ETag.  A range starting at or past the
# end gets 416 with "Content-Range: bytes */SIZE".  Each request is logged
# to LOGFILE as "METHOD URI range=RANGE auth=AUTHORIZATION".  The port is
# written to PORTFILE once listening.
use strict;
use warnings;
use IO::Socket::INET;
use Digest::SHA;

my ($root, $portfile, $log) = @ARGV;
die "usage: badserver.pl ROOT PORTFILE LOGFILE\n" unless defined $log;
my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 16, ReuseAddr => 1, Proto => 'tcp') or die "listen: $!\n";
$SIG{PIPE} = 'IGNORE';
open my $pf, '>', "$portfile.tmp" or die;
print $pf $srv->sockport, "\n";
close $pf;
rename "$portfile.tmp", $portfile;

my (%count, %shas);

sub answer {
	my ($c, $status, $headers, $body) = @_;
	$body //= '';
	my %text = (200 => 'OK', 206 => 'Partial Content', 302 => 'Found',
	    404 => 'Not Found', 416 => 'Range Not Satisfiable',
	    429 => 'Too Many Requests', 503 => 'Service Unavailable', 400 => 'Bad Request');
	print $c "HTTP/1.1 $status $text{$status}\r\n", map("$_\r\n", @$headers),
	    "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n", $body;
}

sub handle {
	my ($c, $method, $uri, $h) = @_;
	my ($opts, $path) = $uri =~ m{^/m/([^/]*)/(.*)$} or return answer($c, 404, []);
	my %o = map { /^(\w+)(?:=(\d+))?$/ ? ($1 => $2 // 1) : () } split /,/, $opts;
	my $key = "$opts/$path";
	my $file = "$root/$path";
	return answer($c, 404, [], "not found\n") if $path =~ /\.\./ || !-f $file;
	if ($o{e429} && $count{"429 $key"}++ < $o{e429}) {
		return answer($c, 429, ['Retry-After: 1'], "slow down\n");
	}
	if ($o{e503} && $count{"503 $key"}++ < $o{e503}) {
		return answer($c, 503, [], "busy\n");
	}
	my $sha = $shas{$file} //= Digest::SHA->new(256)->addfile($file)->hexdigest;
	$sha = '0' x 64 if $o{badsha};
	if ($o{redirect}) {
		my $to = join(',', grep { !/^redirect$/ } split /,/, $opts) || '-';
		return answer($c, 302, ["Location: /m/$to/$path",
		    "X-Linked-Etag: \"$sha\"", "X-Linked-Size: " . -s $file]);
	}
	my $size = -s $file;
	my ($from, $to) = (0, $size - 1);
	my $status = 200;
	if (!$o{norange} && defined $h->{range}) {
		if ($h->{range} =~ /^bytes=(\d+)-(\d*)$/) {
			($from, $to) = ($1, $2 eq '' ? $size - 1 : $2);
		} elsif ($h->{range} =~ /^bytes=-(\d+)$/) {
			($from, $to) = ($size > $1 ? $size - $1 : 0, $size - 1);
		} else {
			return answer($c, 400, []);
		}
		return answer($c, 416, ["Content-Range: bytes */$size"]) if $from >= $size;
		$to = $size - 1 if $to >= $size;
		$status = 206;
	}
	my $len = $to - $from + 1;
	my @hd = ("ETag: \"$sha\"");
	if ($status == 206) {
		my $claim = $o{badrange} ? $from + 1 : $from;
		push @hd, "Content-Range: bytes $claim-$to/$size";
	}
	open my $fh, '<', $file or return answer($c, 404, []);
	binmode $fh;
	seek $fh, $from, 0;
	my %text = (200 => 'OK', 206 => 'Partial Content');
	print $c "HTTP/1.1 $status $text{$status}\r\n", map("$_\r\n", @hd),
	    "Content-Length: $len\r\nConnection: close\r\n\r\n";
	my $cut = $o{drop} // ($o{drop1} && !$count{"drop1 $key"}++ ? $o{drop1} : undef);
	my $send = $cut && $cut < $len ? $cut : $len;
	while ($send > 0) {
		my $n = read $fh, my $buf, $send < 65536 ? $send : 65536;
		last unless $n;
		print $c $buf or last;
		$send -= $n;
	}
	close $fh;
}

while (my $c = $srv->accept) {
	binmode $c;
	$c->autoflush(1);
	my $req = <$c>;
	next unless defined $req;
	my %h;
	while (my $l = <$c>) {
		$l =~ s/\r?\n$//;
		last if $l eq '';
		my ($k, $v) = split /:\s*/, $l, 2;
		$h{lc $k} = $v;
	}
	my ($method, $uri) = split ' ', $req;
	if (open my $lf, '>>', $log) {
		print $lf "$method $uri range=", $h{range} // '-', " auth=", $h{authorization} // '-', "\n";
		close $lf;
	}
	handle($c, $method, $uri, \%h);
	shutdown $c, 2;
	close $c;
}
