#!/bin/bash
# bs-fetch against a local nginx (a static hub) and a misbehaving server
# (tests/http/badserver.pl), both on 127.0.0.1 only: whole files, hub repo
# ids, --split, --tensor through the index or the safetensors header,
# resuming, retries, redirects, sha256 checks, and HF_TOKEN.
. "$(dirname "$0")/../lib.sh"
NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; })
if [ -z "$NGINX" ]; then
	echo "1..0 # skip nginx is not installed"
	exit 0
fi
export NGINX
M=$BS_DATA/models/stories260k
H=$T/hub
S0=model-00001-of-00002.safetensors
mkdir -p "$H/org/name/resolve/main" "$H/org/enc/resolve/main" "$T/ng"
cp "$M"/* "$H/org/name/resolve/main/"
bs-split "$M" | bs-encode > "$H/org/enc/resolve/main/model.bs"
BS=$H/org/enc/resolve/main/model.bs

stop() {
	"$top/tests/http/nginx.sh" stop "$T/ng"
	[ -s "$T/bad.pid" ] && kill "$(cat "$T/bad.pid")" 2> /dev/null
	rm -rf "$T"
}
trap stop EXIT
P=$("$top/tests/http/nginx.sh" start "$T/ng" "$H") || { echo "1..0 # skip nginx does not start"; exit 0; }
perl "$top/tests/http/badserver.pl" "$H" "$T/bad.port" "$T/bad.log" < /dev/null > /dev/null 2>&1 &
echo $! > "$T/bad.pid"
for i in $(seq 50); do [ -s "$T/bad.port" ] && break; sleep 0.1; done
BP=$(cat "$T/bad.port")
N=http://127.0.0.1:$P	# nginx
B=http://127.0.0.1:$BP/m	# badserver: $B/OPTS/PATH
F="--max-wait 0.05"	# retries without the waits

# bytes nginx sent for requests logged since mark
mark() { wc -l < "$T/ng/access.log"; }
sent() { tail -n +$(($1 + 1)) "$T/ng/access.log" | awk '{ s += $3 } END { print s + 0 }'; }
# the tensor names of a stream
tlist() { bs-info -t "$1" | awk 'NR > 1 && $3 ~ /^\[/ { print $1 }'; }
names() { tlist "$1" | sort; }
# two streams equal but for the writer's name in their first (STREAM) frame
same_stream() { cmp -s <(tail -c +109 "$1") <(tail -c +109 "$2"); }

# ------------------------------------------------------------ whole files
bs-fetch "$N/org/enc/resolve/main/model.bs" > "$T/got.bs"; ok $? "fetch a .bs"
cmp -s "$T/got.bs" "$BS"; ok $? "the bytes are the file's"
bs-fetch "$N/org/enc/resolve/main/model.bs" | bs-decode | bs-reshard -o "$T/r1" 2> "$T/err"; ok $? "fetch | decode | reshard"
st=0; for f in "$M"/*; do cmp -s "$f" "$T/r1/${f##*/}" || st=1; done
ok $st "every file restored byte for byte"

HF_ENDPOINT=$N bs-fetch hf:org/enc -o "$T/enc.bs"; ok $? "hf:org/enc (a compressed repo) -o FILE"
cmp -s "$T/enc.bs" "$BS"; ok $? "... is its model.bs"
[ ! -e "$T/enc.bs.part" ]; ok $? "... and no .part is left"

HF_ENDPOINT=$N bs-fetch hf:org/name > "$T/repo.bs"; ok $? "hf:org/name (a sharded safetensors repo)"
bs-decode < "$T/repo.bs" | bs-reshard -o "$T/r2"; ok $? "... decodes and reshards"
want="config.json generation_config.json $S0 model-00002-of-00002.safetensors model.safetensors.index.json"
is "$(cd "$T/r2" && echo *)" "$want" "... the weights, the index and the config files (tok512.bin is not on the list)"
st=0; for f in $want; do cmp -s "$M/$f" "$T/r2/$f" || st=1; done
ok $st "... each byte for byte"
mkdir "$T/local"; for f in $want; do cp "$M/$f" "$T/local/"; done
bs-split "$T/local" > "$T/local.bs"
same_stream "$T/repo.bs" "$T/local.bs"; ok $? "... the same stream as bs-split of the folder"
HF_ENDPOINT=$N/ bs-fetch org/name > "$T/bare.bs"; ok $? "a bare ORG/NAME is a repo id too"
cmp -s "$T/bare.bs" "$T/repo.bs"; ok $? "... the same stream"

# ------------------------------------------------------------------ --split
bs-fetch --split "$N/org/name/resolve/main/$S0" > "$T/s.bs"; ok $? "--split of a served safetensors"
bs-split "$M/$S0" > "$T/s-local.bs"
same_stream "$T/s.bs" "$T/s-local.bs"; ok $? "... equals bs-split of the local file"
HF_ENDPOINT=$N bs-fetch -s "hf:org/name@main:$S0" -o "$T/s2.bs"; ok $? "--split of hf:org/name@main:PATH -o FILE"
same_stream "$T/s2.bs" "$T/s-local.bs"; ok $? "... the same"

# --------------------------------------------------------------- --tensor
m=$(mark)
bs-fetch -t 'model.layers.0.*' "$N/org/enc/resolve/main/model.bs" > "$T/t.bs"; ok $? "--tensor from a .bs"
part=$(sent "$m")
whole=$(stat -c %s "$BS")
[ "$part" -lt $((whole / 2)) ]; ok $? "... fetched $part bytes of $whole"
names "$T/t.bs" > "$T/t.names"
names "$BS" | grep '^model\.layers\.0\.' > "$T/want.names"
[ -s "$T/want.names" ] && cmp -s "$T/t.names" "$T/want.names"; ok $? "... exactly the selected tensors"
bs-decode < "$T/t.bs" > "$T/t.raw"; ok $? "... a valid stream that decodes (tensor checksums hold)"
bs-fetch -t 'model.norm.weight' -t 'lm_head*' "$N/org/enc/resolve/main/model.bs" > "$T/t2.bs"
is "$(names "$T/t2.bs" | tr '\n' ' ')" "$(names "$BS" | grep -x 'model\.norm\.weight\|lm_head.*' | tr '\n' ' ')" "--tensor twice: both patterns"

m=$(mark)
bs-fetch -t 'model.layers.1.*' "$N/org/name/resolve/main/$S0" > "$T/ts.bs"; ok $? "--tensor from a safetensors file"
part=$(sent "$m")
[ "$part" -lt $(($(stat -c %s "$M/$S0") / 2)) ]; ok $? "... fetched $part bytes of $(stat -c %s "$M/$S0")"
names "$T/s-local.bs" | grep '^model\.layers\.1\.' > "$T/want.names"
names "$T/ts.bs" > "$T/ts.names"
[ -s "$T/want.names" ] && cmp -s "$T/ts.names" "$T/want.names"; ok $? "... exactly the selected tensors"
bs-fetch -t 'model.layers.1.*' "$B/norange/org/name/resolve/main/$S0" > "$T/ts-norange.bs"; ok $? "--tensor from a server that ignores ranges"
cmp -s "$T/ts.bs" "$T/ts-norange.bs"; ok $? "... the same stream"
HF_ENDPOINT=$N bs-fetch -t '*layernorm*' hf:org/name > "$T/th.bs"; ok $? "--tensor over a sharded repo"
is "$(names "$T/th.bs" | wc -l)" "$(names "$T/local.bs" | grep -c layernorm)" "... the matching tensors of every shard"
HF_ENDPOINT=$N bs-fetch -t '*layernorm*' hf:org/enc > "$T/te.bs"; ok $? "--tensor over a compressed repo"
cmp -s <(names "$T/te.bs") <(names "$T/th.bs"); ok $? "... the same tensors"
expect_fail 1 - "--tensor matching nothing: exit 1" -- bs-fetch -t 'nothing*' "$N/org/enc/resolve/main/model.bs"

# ------------------------------------------------------------------ resume
U=org/enc/resolve/main/model.bs
bs-fetch -r 0 -o "$T/res.bs" "$B/drop=100000/$U" 2> "$T/err"; st=$?
is "$st" 2 "a cut connection without retries: exit 2"
[ ! -e "$T/res.bs" ] && [ "$(stat -c %s "$T/res.bs.part" 2> /dev/null)" = 100000 ]; ok $? "... FILE absent, FILE.part holds what came"
grep -q 'res.bs.part' "$T/err"; ok $? "... and the message says where"
m=$(mark)
bs-fetch -C -o "$T/res.bs" "$N/$U"; ok $? "-C resumes"
cmp -s "$T/res.bs" "$BS"; ok $? "... to the whole file"
is "$(sent "$m")" "$(tail -1 "$T/ng/access.log" | awk '{ print $3 }')" "... in one request"
tail -1 "$T/ng/access.log" | grep -q '"bytes=100000-"'; ok $? "... for the bytes after the part"
cp "$BS" "$T/full.bs.part"
bs-fetch -C -o "$T/full.bs" "$B/-/$U"; ok $? "-C of a complete part (416)"
cmp -s "$T/full.bs" "$BS"; ok $? "... renamed into place"
tail -1 "$T/bad.log" | grep -q "range=bytes=$(stat -c %s "$BS")-"; ok $? "... after asking for the bytes past its end"

# ------------------------------------------------------- misbehaving server
bs-fetch $F "$B/drop=100000/$U" > "$T/d.bs"; ok $? "connection cut every 100000 bytes"
cmp -s "$T/d.bs" "$BS"; ok $? "... resumed to the whole file"
: > "$T/bad.log"
bs-fetch $F "$B/drop1=100000,norange/$U" > "$T/dn.bs"; ok $? "cut, and ranges ignored"
cmp -s "$T/dn.bs" "$BS"; ok $? "... the repeated bytes skipped"
[ "$(grep -c "^GET" "$T/bad.log")" -gt 1 ]; ok $? "... after more than one request"
expect_fail 2 - "a Content-Range starting late: exit 2" -- bs-fetch $F "$B/badrange,drop=1000/$U"
grep -q 'server sent bytes from' "$T/stderr"; ok $? "... saying so"
expect_fail 2 "$T/br.bs" "... and with -o nothing appears" -- bs-fetch $F -o "$T/br.bs" "$B/badrange,drop=1000/$U"
: > "$T/bad.log"
bs-fetch --max-wait 0.1 "$B/e429=2/$U" > "$T/429.bs"; ok $? "429 twice with Retry-After"
cmp -s "$T/429.bs" "$BS"; ok $? "... then the file"
is "$(grep -c "^GET" "$T/bad.log")" 3 "... in three requests"
: > "$T/bad.log"
expect_fail 2 - "503 every time, --retries 2: exit 2" -- bs-fetch $F -r 2 "$B/e503=99/$U"
is "$(grep -c "^GET" "$T/bad.log")" 3 "... after three requests"
expect_fail 2 - "404: exit 2" -- bs-fetch "$B/-/org/enc/resolve/main/nothing.bs"
grep -q "HTTP 404: not found: .*/nothing.bs" "$T/stderr"; ok $? "and the message names the URL"
expect_fail 2 - "connection refused: exit 2" -- bs-fetch $F -r 1 "http://127.0.0.1:1/x.bs"
bs-fetch -v "$B/redirect/$U" > "$T/rd.bs" 2> "$T/err"; ok $? "302 redirect with X-Linked-Etag"
cmp -s "$T/rd.bs" "$BS"; ok $? "... the file"
grep -q "sha256 $(sha256sum < "$BS" | cut -c1-64) verified" "$T/err"; ok $? "... its sha256 verified"
expect_fail 1 - "a wrong sha256 on stdout: exit 1" -- bs-fetch "$B/redirect,badsha/$U"
grep -q 'stdout' "$T/stderr"; ok $? "... saying stdout got bad bytes"
expect_fail 1 "$T/bad.bs" "a wrong sha256 with -o: exit 1, nothing appears" -- bs-fetch -o "$T/bad.bs" "$B/badsha/$U"
[ ! -e "$T/bad.bs.part" ]; ok $? "... and no .part is kept"
expect_fail 1 - "a wrong sha256 under --split: exit 1" -- env HF_ENDPOINT="$B/badsha" bs-fetch hf:org/name
bs-fetch $F -s "$B/drop1=50000,norange/org/name/resolve/main/$S0" > "$T/sd.bs"; ok $? "--split over a cut connection"
same_stream "$T/sd.bs" "$T/s-local.bs"; ok $? "... the same stream"

# ---------------------------------------------------------------- HF_TOKEN
: > "$T/bad.log"
HF_TOKEN=hf_s3cretT0ken HF_ENDPOINT=$B/redirect bs-fetch -v hf:org/name:config.json > "$T/cfg" 2> "$T/err"; ok $? "hf:ORG/NAME:PATH with HF_TOKEN"
cmp -s "$T/cfg" "$M/config.json"; ok $? "... the file"
grep -q 'auth=Bearer hf_s3cretT0ken' "$T/bad.log"; ok $? "... the token sent as a bearer token"
! grep -q 's3cret' "$T/err"; ok $? "... and never printed, even with -v"
: > "$T/bad.log"
HF_TOKEN=hf_s3cretT0ken HF_ENDPOINT=$N bs-fetch "$B/-/org/name/resolve/main/config.json" > /dev/null
grep -q 'auth=-' "$T/bad.log"; ok $? "the token is not sent to another host"

# ------------------------------------------------------------------- usage
expect_fail 2 - "a local path is refused" -- bs-fetch "$M"
expect_fail 2 - "-C without -o" -- bs-fetch -C "$N/$U"
expect_fail 2 - "not a URL or repo id" -- bs-fetch "not a repo"
done_testing
