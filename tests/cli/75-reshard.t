#!/bin/bash
# bs-reshard's new layouts: safetensors shards cut at layer boundaries
# (--size, --shards, --join) and .bs shards (--bs), checked tensor by
# tensor against the source with python (torch when it imports, else
# numpy, else the raw bytes); and the original layout's safety rules.
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
if ! $PY -c 'import json, struct' 2>/dev/null; then
	echo "1..0 # skip no $PY"
	exit 0
fi
if [ ! -d "$BS_DATA/models/stories260k" ]; then
	echo "1..0 # skip no sample model at $BS_DATA"
	exit 0
fi
if $PY -c 'import torch' 2>/dev/null; then LOADER=torch
elif $PY -c 'import numpy' 2>/dev/null; then LOADER=numpy
else LOADER=raw; fi
diag "tensors are read back with: $LOADER"

# check.py MODE ARG SRC... -- OUT: the shards in OUT hold the source
# tensors, bit for bit, canonical, cut as bs-reshard(1) documents.
cat > "$T/check.py" <<'PYEOF'
import json, os, re, struct, sys
mode, arg, loader = sys.argv[1], int(sys.argv[2]), sys.argv[3]
i = sys.argv.index('--'); srcs, out = sys.argv[4:i], sys.argv[i + 1]
def fail(msg): print('# ' + msg); sys.exit(1)
def read_st(path, canonical=False):
    data = open(path, 'rb').read()
    n = struct.unpack('<Q', data[:8])[0]
    raw = data[8:8 + n]
    h = json.loads(raw)
    meta = h.pop('__metadata__', None)
    items = sorted(h.items(), key=lambda kv: kv[1]['data_offsets'])
    if canonical:
        if (8 + n) % 8: fail('%s: header not padded to 8' % path)
        if list(h) != [k for k, _ in items]: fail('%s: header keys not in data order' % path)
        want = {'__metadata__': meta} if meta else {}
        want.update(h)
        txt = json.dumps(want, separators=(',', ':'), ensure_ascii=False).encode()
        if raw.rstrip(b' ') != txt: fail('%s: header is not canonical' % path)
        off = 0
        for k, v in items:
            if v['data_offsets'][0] != off: fail('%s: %s: gap in the data' % (path, k))
            off = v['data_offsets'][1]
        if off != len(data) - 8 - n: fail('%s: data length' % path)
    return [(k, v['dtype'], v['shape'], data[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]]) for k, v in items]
def readback(dt, shape, b):
    # read the tensor back through a real consumer, then take its bytes
    if loader == 'torch':
        import torch
        m = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
             'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8,
             'U8': torch.uint8, 'BOOL': torch.bool}
        if dt in m and len(b):
            t = torch.frombuffer(bytearray(b), dtype=m[dt]).reshape(shape)
            return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    if loader in ('torch', 'numpy'):
        import numpy as np
        m = {'F64': np.float64, 'F32': np.float32, 'F16': np.float16, 'I64': np.int64, 'I32': np.int32,
             'I16': np.int16, 'I8': np.int8, 'U8': np.uint8, 'BOOL': np.bool_}
        if dt in m and len(b):
            return np.frombuffer(b, dtype=m[dt]).reshape(shape).tobytes()
    return b
def key(name):
    m = re.match(r'^((?:[^.]*\.)+?)(\d+)\.', name)
    return None
def lkey(name):
    parts = name.split('.')
    for j in range(1, len(parts) - 1):
        if parts[j].isdigit() and parts[j] != '':
            return '.'.join(parts[:j + 1]) + '.'
    return None
src = []
for s in srcs:
    src += read_st(s)
srcmap = {k: (dt, sh, b) for k, dt, sh, b in src}
names = sorted(f for f in os.listdir(out) if f.endswith('.safetensors'))
shards = [read_st(os.path.join(out, f), True) for f in names]
got = [t for sh in shards for t in sh]
if [t[0] for t in got] != [t[0] for t in src]: fail('tensors not in the stream order')
for k, dt, sh, b in got:
    if srcmap[k][:2] != (dt, sh): fail('%s: dtype or shape differs' % k)
    if readback(dt, sh, b) != srcmap[k][2]: fail('%s: bytes differ' % k)
# groups: runs of one layer in stream order; never split over shards
where = {k: i for i, sh in enumerate(shards) for k, _, _, _ in sh}
groups = []
for k, _, _, b in src:
    if groups and lkey(k) and lkey(k) == groups[-1][0]:
        groups[-1][1].append(k); groups[-1][2] += len(b)
    else:
        groups.append([lkey(k), [k], len(b)])
for g in groups:
    if len({where[k] for k in g[1]}) != 1: fail('layer %s split over shards' % g[0])
total = sum(len(b) for _, _, _, b in src)
if mode == 'size':
    sizes = [sum(len(t[3]) for t in sh) for sh in shards]
    starts = [g for g in groups if where[g[1][0]] != (where[groups[groups.index(g) - 1][1][0]] if groups.index(g) else -1)]
    for i, sh in enumerate(shards):
        ng = len([g for g in groups if where[g[1][0]] == i])
        if sizes[i] > arg and ng > 1: fail('shard %d holds %d bytes > %d' % (i + 1, sizes[i], arg))
        if i + 1 < len(shards) and sizes[i] + starts[i + 1][2] <= arg:
            fail('shard %d was cut although the next layer fits' % (i + 1))
elif mode == 'shards':
    if len(shards) > arg: fail('%d shards, asked for %d' % (len(shards), arg))
    want = []
    at = 0
    for g in groups:
        want.append(min(arg - 1, (at + g[2] // 2) * arg // total) if total else 0); at += g[2]
    if len(set(want)) != len(shards): fail('shard count %d, documented rule gives %d' % (len(shards), len(set(want))))
if len(shards) == 1:
    if names != ['model.safetensors']: fail('one shard is not model.safetensors: %s' % names)
    if os.path.exists(os.path.join(out, 'model.safetensors.index.json')): fail('an index for one shard')
else:
    n = len(shards)
    if names != ['model-%05d-of-%05d.safetensors' % (i + 1, n) for i in range(n)]: fail('shard names %s' % names)
    ix = json.load(open(os.path.join(out, 'model.safetensors.index.json')))
    if ix['metadata']['total_size'] != total: fail('total_size %d, want %d' % (ix['metadata']['total_size'], total))
    if sorted(ix['weight_map']) != sorted(srcmap): fail('weight_map does not cover every tensor once')
    for k, f in ix['weight_map'].items():
        if names.index(f) != where[k]: fail('weight_map puts %s in the wrong shard' % k)
print('# %d tensors, %d shards, %d bytes' % (len(got), len(shards), total))
PYEOF

M=$BS_DATA/models/stories260k
srcs=("$M")
# bench files of several dtypes, the smallest first (two under BS_QUICK)
b=()
for f in silero-vad-v5.bf16 ppocrv4-rec.bf16 faceres.f16 esrgan-thick-x4.f32; do
	[ -f "$BS_DATA/bench/$f.safetensors" ] && b+=("$BS_DATA/bench/$f.safetensors")
done
if [ -n "$BS_QUICK" ] && [ ${#b[@]} -gt 2 ]; then b=("${b[@]:0:2}"); fi
srcs+=("${b[@]}")

i=0
for src in "${srcs[@]}"; do
	i=$((i + 1))
	name=$(basename "$src")
	w="$T/$i"; mkdir -p "$w"
	if [ -d "$src" ]; then st=("$src"/*.safetensors); else st=("$src"); fi
	bs-split "$src" | bs-encode > "$w/enc.bs"; ok $? "$name: split and encode"
	total=$(stat -c %s "${st[@]}" | awk '{ s += $1 } END { print s }')
	for sz in $((total / 5)) $((total / 2)); do
		bs-reshard --size "$sz" -o "$w/s$sz" "$w/enc.bs"; ok $? "$name: --size $sz"
		$PY "$T/check.py" size "$sz" "$LOADER" "${st[@]}" -- "$w/s$sz"; ok $? "$name: --size $sz: tensors bit-exact, canonical, cut as documented"
	done
	bs-decode < "$w/enc.bs" | bs-reshard --shards 3 -o "$w/n3"; ok $? "$name: --shards 3 from a pipe"
	$PY "$T/check.py" shards 3 "$LOADER" "${st[@]}" -- "$w/n3"; ok $? "$name: --shards 3: tensors bit-exact, cut as documented"
	bs-reshard --join -o "$w/j" < "$w/enc.bs"; ok $? "$name: --join"
	$PY "$T/check.py" shards 1 "$LOADER" "${st[@]}" -- "$w/j"; ok $? "$name: --join: one model.safetensors with every tensor"
	# the other files come along; the old index does not
	if [ -d "$src" ]; then
		for f in "$src"/*; do
			case $f in *.safetensors|*.index.json) continue ;; esac
			cmp -s "$f" "$w/n3/$(basename "$f")"; ok $? "$name: $(basename "$f") carried along"
		done
		[ "$(jq -r '.weight_map | length' "$w/n3/model.safetensors.index.json" 2>/dev/null || $PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["weight_map"]))' "$w/n3/model.safetensors.index.json")" -gt 0 ]
		ok $? "$name: the new index replaces the old one"
	fi
	# the re-sharded model goes back into a stream and out again unchanged
	bs-split "$w/n3" | bs-encode | bs-reshard -o "$w/n3b"; ok $? "$name: the shards compress and restore"
	diff -r "$w/n3" "$w/n3b" >&2; ok $? "$name: and come back byte for byte"

	# .bs shards at the same boundaries, chunks copied, not recoded
	sz=$((total / 5))
	bs-reshard --bs --size "$sz" -o "$w/b" "$w/enc.bs"; ok $? "$name: --bs --size $sz"
	nb=$(ls "$w/b"/*.bs | wc -l); ns=$(ls "$w/s$sz"/*.safetensors | wc -l)
	is "$nb" "$ns" "$name: as many .bs shards as safetensors shards"
	allok=0
	for f in "$w/b"/*.bs; do bs-decode < "$f" > /dev/null || allok=1; done
	ok $allok "$name: each .bs shard decodes alone"
	k=0; same=0
	for f in "$w/b"/*.bs; do
		k=$((k + 1))
		g=$(printf '%s/s%s/model-%05d-of-%05d.safetensors' "$w" "$sz" "$k" "$ns")
		[ "$ns" -eq 1 ] && g="$w/s$sz/model.safetensors"
		rm -rf "$w/one"; bs-reshard --join -o "$w/one" "$f" || same=1
		$PY "$T/check.py" shards 1 "$LOADER" "$g" -- "$w/one" > /dev/null || same=1
	done
	ok $same "$name: each .bs shard holds the tensors of the same safetensors shard"
	cat "$w/b"/*.bs | bs-reshard --join -o "$w/bj"; ok $? "$name: cat of the .bs shards"
	$PY "$T/check.py" shards 1 "$LOADER" "${st[@]}" -- "$w/bj"; ok $? "$name: decodes to the tensors of the whole"
	if [ -d "$src" ]; then
		bs-reshard -o "$w/bl" "$w/b/model-00001-of-$(printf %05d "$nb").bs" 2> "$T/err"
		is "$?" 1 "$name: the loose tensors of a .bs shard are refused in the original layout"
		grep -q "outside a file record" "$T/err"; ok $? "$name: with a clear message"
	fi
	rm -rf "$w"
done

# the original layout's safety rules
mkdir -p "$T/many"
for n in $(seq 1 1100); do echo "$n" > "$T/many/f$n.txt"; done
bs-split "$T/many" > "$T/many.bs"
(ulimit -n 64; bs-reshard -o "$T/many.out" "$T/many.bs"); ok $? "1100 files restore with 64 file descriptors"
diff -r "$T/many" "$T/many.out" >&2; ok $? "and every one is there"
rm -rf "$T/many" "$T/many.out"

mkdir -p "$T/one/sub/dir"; echo hi > "$T/one/sub/dir/x.txt"
bs-split "$T/one" > "$T/one.bs"
cat "$T/one.bs" "$T/one.bs" > "$T/two.bs"
expect_fail 1 "$T/dup" "two records of one path are refused" -- bs-reshard -o "$T/dup" "$T/two.bs"
mkdir -p "$T/fa" "$T/fb/sub"; echo a > "$T/fa/sub"; echo b > "$T/fb/sub/x"
{ bs-split "$T/fa"; bs-split "$T/fb"; } > "$T/ab.bs"
{ bs-split "$T/fb"; bs-split "$T/fa"; } > "$T/ba.bs"
expect_fail 1 "$T/ab" "a file and a file under it (sub, then sub/x) are refused" -- bs-reshard -o "$T/ab" "$T/ab.bs"
expect_fail 1 "$T/ba" "and the other way round" -- bs-reshard -o "$T/ba" "$T/ba.bs"
len=$(stat -c %s "$T/one.bs")
head -c $((len - 10)) "$T/one.bs" > "$T/cut.bs"
expect_fail 1 "$T/cut" "a truncated stream fails and leaves no folder behind" -- bs-reshard -o "$T/cut" "$T/cut.bs"
mkdir -p "$T/keep"
expect_fail 1 - "a failure removes only the folders it created" -- bs-reshard -o "$T/keep" "$T/cut.bs"
[ -d "$T/keep" ] && [ ! -e "$T/keep/sub" ]; ok $? "DIR that existed stays, sub/ it made goes"
mkdir -p "$T/outside" "$T/d"; ln -s "$T/outside" "$T/d/sub"
expect_fail 2 - "-f refuses to follow a symbolic link inside DIR" -- bs-reshard -f -o "$T/d" "$T/one.bs"
[ -z "$(ls -A "$T/outside")" ]; ok $? "nothing was written through the link"
# a link where a file goes: replaced by the file, its target untouched
mkdir -p "$T/lk"; echo victim > "$T/victim"; ln -s "$T/victim" "$T/lk/config.json"
bs-split "$M" | bs-reshard -f -o "$T/lk"; ok $? "-f over a symbolic link where a file goes"
[ "$(cat "$T/victim")" = victim ] && [ ! -L "$T/lk/config.json" ] && cmp -s "$T/lk/config.json" "$M/config.json"
ok $? "... replaces the link, not the file it points to"
mkdir -p "$T/lj"; ln -s "$T/victim" "$T/lj/model.safetensors"
bs-split "$M" | bs-reshard -f --join -o "$T/lj"; ok $? "-f --join over a link where the shard goes"
[ "$(cat "$T/victim")" = victim ] && [ ! -L "$T/lj/model.safetensors" ]; ok $? "... replaces the link too"

expect_fail 2 - "--bs alone is a usage error" -- bs-reshard --bs -o "$T/x" "$T/one.bs"
expect_fail 2 - "two layouts are a usage error" -- bs-reshard --join --size 1M -o "$T/x" "$T/one.bs"
bs-split "$M" | bs-reshard --size 100K -o "$T/st" && bs-split "$M" | bs-reshard --size 100K -o "$T/st" 2> "$T/err"
is "$?" 2 "existing shards are not replaced without -f"
bs-split "$M" | bs-reshard -f --size 100K -o "$T/st"; ok $? "and are with -f"

done_testing
