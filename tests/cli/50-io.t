#!/bin/bash
# I/O trouble: a full disk, a reader that goes away, a signal in the middle,
# inputs that cannot be read.  Exit 2 (not 0, not 1) with a message, and no
# output or temporary file left behind.
. "$(dirname "$0")/../lib.sh"
mkst() { perl "$top/tests/mkst.pl" "$@"; }
shopt -s nullglob dotglob

# about 3 MB of model: more than any pipe buffer
M=$T/model
mkdir -p "$M"
mkst "$M/a.safetensors" "w:BF16:600000" "b:F32:100000" "c:U8:1000"
head -c 200000 /dev/urandom > "$M/tok.bin"
bs-split "$M" > "$T/raw.bs" && bs-encode < "$T/raw.bs" > "$T/enc.bs"; ok $? "made a 3 MB test stream"

# ---------------------------------------------------------------- /dev/full
if [ -w /dev/full ]; then
	for c in "bs-split $M" "bs-split -c 4096 $M" "bs-encode $T/raw.bs" "bs-decode $T/enc.bs" "bs-encode -T 1 $T/raw.bs" "bs-decode -T 1 $T/enc.bs"; do
		$c > /dev/full 2> "$T/err"; st=$?
		is "$st" 2 "$c > /dev/full exits 2"
		grep -qi 'space\|write' "$T/err"; ok $? "$c > /dev/full says why"
		[ $? -eq 0 ] || sed 's/^/#   /' "$T/err"
	done
	bs-encode < "$T/raw.bs" > /dev/full 2> "$T/err"; st=$?
	is "$st" 2 "bs-encode < raw > /dev/full exits 2"
	mapfile -t l < "$T/err"
	is "${#l[@]}" 1 "one line of message"
	# small outputs are written late, at exit: still caught
	bs-info "$T/enc.bs" > /dev/full 2> "$T/err"; st=$?
	is "$st" 2 "bs-info > /dev/full (a short report, written at exit) exits 2"
	[ -s "$T/err" ]; ok $? "bs-info > /dev/full says why"
	bs-split --help > /dev/full 2> /dev/null; st=$?
	is "$st" 2 "bs-split --help > /dev/full exits 2"
	bs-encode --version > /dev/full 2> /dev/null; st=$?
	is "$st" 2 "bs-encode --version > /dev/full exits 2"
	mkst "$T/tiny.safetensors" "x:U8:1"
	bs-split "$T/tiny.safetensors" > /dev/full 2> /dev/null; st=$?
	is "$st" 2 "bs-split of a 1-byte tensor > /dev/full exits 2"
else
	echo "ok $((_n += 1)) # skip no writable /dev/full"
fi

# ---------------------------------------------------------------- closed pipe
# bs-info -t of 3000 tensors: a report much larger than a pipe buffer
mkst "$T/many.safetensors" $(for i in $(seq 3000); do echo "tensor.number.$i:U8:1"; done)
bs-split "$T/many.safetensors" > "$T/many.bs"
for c in "bs-decode $T/enc.bs" "bs-decode -T 1 $T/enc.bs" "bs-encode $T/raw.bs" "bs-split $M" "bs-info -t $T/many.bs"; do
	$c 2> "$T/err" | head -c 100 > /dev/null
	st=${PIPESTATUS[0]}
	[ "$st" -ne 0 ]; ok $? "$c | head -c 100: non-zero exit ($st)"
	[ "$st" -lt 128 ]; ok $? "$c | head -c 100: an exit, not killed by SIGPIPE ($st)"
done
bs-info -t "$T/many.bs" > /dev/null; ok $? "(bs-info -t of the same stream to /dev/null exits 0)"

# ---------------------------------------------------------------- signals
# sig PROG-ARGS... : run it reading a FIFO that is fed the stream and then
# kept open, kill it with the signal once its temporary output exists, and
# check that nothing is left
killtest() {
	local sig=$1 desc=$2 input=$3 dir=$4; shift 4
	local fifo=$T/fifo pid st i left
	rm -rf "$dir" "$fifo"; mkdir -p "$dir"; mkfifo "$fifo"
	"$@" < "$fifo" > /dev/null 2> "$T/err" &
	pid=$!
	exec 3> "$fifo"
	cat "$input" >&3
	# wait (without a time limit) for the program to have started writing
	for ((i = 0; i < 600; i++)); do
		left=("$dir"/* "$dir"/*/*)
		[ ${#left[@]} -gt 0 ] && break
		sleep 0.1
	done
	kill -$sig $pid
	wait $pid; st=$?
	exec 3>&-
	[ "$st" -ne 0 ]; ok $? "$desc: SIG$sig ends it with a non-zero status ($st)"
	left=("$dir"/* "$dir"/*/*)
	is "${left[*]#$dir/}" "" "$desc: no output, no temporary file left"
	rm -rf "$dir" "$fifo"
}
mkst "$T/one.safetensors" "w:BF16:600000"
killtest TERM "bs-encode -o out.bs from a slow pipe" "$T/raw.bs" "$T/o" bs-encode -o "$T/o/out.bs"
killtest TERM "bs-decode -o out.bs from a slow pipe" "$T/enc.bs" "$T/o" bs-decode -o "$T/o/out.bs"
killtest INT "bs-encode -o out.bs, SIGINT" "$T/raw.bs" "$T/o" bs-encode -o "$T/o/out.bs"
killtest TERM "bs-split -o out.bs - from a slow pipe" "$T/one.safetensors" "$T/o" bs-split -o "$T/o/out.bs" -
killtest TERM "bs-reshard -o DIR from a slow pipe" "$T/enc.bs" "$T/o" bs-reshard -o "$T/o"

# the same with a pipeline like the brief's: (cat raw; sleep 5) | bs-encode -o
mkdir -p "$T/p"
(cat "$T/raw.bs"; sleep 5) | bs-encode -o "$T/p/out.bs" 2>/dev/null &
pid=$!	# the last command of the pipeline: bs-encode
for ((i = 0; i < 600; i++)); do
	left=("$T/p"/*); [ ${#left[@]} -gt 0 ] && break; sleep 0.1
done
kill -TERM $pid; wait $pid; st=$?
[ "$st" -ne 0 ]; ok $? "(cat raw; sleep 5) | bs-encode -o out.bs, SIGTERM: non-zero ($st)"
left=("$T/p"/*)
is "${left[*]#$T/p/}" "" "(cat raw; sleep 5) | bs-encode -o out.bs, SIGTERM: nothing left"

# ---------------------------------------------------------------- inputs and outputs
bs-decode "$T" > /dev/null 2> "$T/err"; st=$?
is "$st" 2 "bs-decode of a folder exits 2"
[ -s "$T/err" ]; ok $? "bs-decode of a folder says why"
bs-decode -o "$T/no/such/dir/out.bs" "$T/enc.bs" 2> "$T/err"; st=$?
is "$st" 2 "bs-decode -o into a missing folder exits 2"
grep -qF "$T/no/such/dir" "$T/err"; ok $? "and names the output"
bs-split -o "$T/no/such/dir/out.bs" "$M" 2> /dev/null; st=$?
is "$st" 2 "bs-split -o into a missing folder exits 2"
bs-reshard -o /dev/full/x "$T/enc.bs" 2> "$T/err"; st=$?
is "$st" 2 "bs-reshard -o into something that is not a folder exits 2"
mkdir -p "$T/r1"
bs-reshard -o "$T/r1" "$T/enc.bs"; ok $? "bs-reshard -o DIR"
bs-reshard -o "$T/r1" "$T/enc.bs" 2> "$T/err"; st=$?
is "$st" 2 "bs-reshard again into the same DIR: exit 2 (files exist)"
grep -q 'exists' "$T/err"; ok $? "and says the file exists"
echo changed > "$T/r1/tok.bin"
bs-reshard -f -o "$T/r1" "$T/enc.bs"; ok $? "bs-reshard -f replaces them"
diff -r "$M" "$T/r1" >&2; ok $? "with the right bytes"
# a successful -o leaves exactly the output
mkdir -p "$T/q"
bs-decode -o "$T/q/out.bs" "$T/enc.bs"; ok $? "bs-decode -o out.bs"
left=("$T/q"/*)
is "${left[*]#$T/q/}" "out.bs" "only out.bs is there, no temporary file"
cmp -s "$T/q/out.bs" "$T/raw.bs"; ok $? "and it is the raw stream"
echo "ok $((_n += 1)) # skip refusing binary output to a terminal needs a tty"

done_testing
