#!/bin/bash
# make install into a temporary DESTDIR: the installed programs work, the
# man pages and completions are where Debian looks; make uninstall leaves
# no file behind.  Every option of every program is in its completions;
# every man page is lint-clean; the README's GNU parallel recipe works.
. "$(dirname "$0")/../lib.sh"

D=$T/dest
P=/usr
progs=()
for p in "$BS_BIN"/bs-* "$BS_BIN"/bigsmall; do
	[ -x "$p" ] && progs+=("$(basename "$p")")
done

# install the programs of $BS_BIN as they are: make does not rebuild (-o all)
# and writes nothing into the tree
make -s -C "$top" -o all BIN="$BS_BIN" DESTDIR="$D" PREFIX="$P" install > "$T/make.out" 2>&1; st=$?
is "$st" 0 "make install DESTDIR=... PREFIX=/usr"
[ "$st" -eq 0 ] || sed 's/^/#   /' "$T/make.out" | head -5
miss=
for p in "${progs[@]}"; do
	[ -x "$D$P/bin/$p" ] || miss="$miss bin/$p"
	[ -f "$D$P/share/man/man1/$p.1" ] || miss="$miss man1/$p.1"
	[ -f "$D$P/share/bash-completion/completions/$p" ] || miss="$miss bash/$p"
	[ -f "$D$P/share/zsh/vendor-completions/_$p" ] || miss="$miss zsh/_$p"
	[ -f "$D$P/share/fish/vendor_completions.d/$p.fish" ] || miss="$miss fish/$p.fish"
done
[ -f "$D$P/share/man/man5/bs-stream.5" ] || miss="$miss man5/bs-stream.5"
is "$miss" "" "every program, man page and completion is installed (${#progs[@]} programs)"

# a round trip with the installed programs only
M=$BS_DATA/models/stories260k
if [ -d "$M" ]; then
	(
		PATH=$D$P/bin:/usr/bin:/bin
		cd "$T" || exit 2
		bs-split "$M" | bs-encode > rt.bs && bs-decode < rt.bs | bs-reshard -o rt &&
		diff -r rt "$M" > /dev/null &&
		bigsmall compress "$M" -o rt2.bs && bigsmall decompress rt2.bs -o rt2 &&
		diff -r rt2 "$M" > /dev/null && [ "$(bigsmall -n info rt2.bs)" = "bs-info rt2.bs" ]
	); ok $? "round trip with the installed programs and bigsmall (bare names in -n)"
else
	echo "ok $((++_n)) # skip no sample model"
fi
env -i PATH=/usr/bin:/bin "$D$P/bin/bigsmall" -n compress m > "$T/out" 2>&1
is "$(cat "$T/out")" "$D$P/bin/bs-split m | $D$P/bin/bs-encode -o m.bs" "bigsmall runs the programs next to it, named by path when PATH would not find them"

# man pages: render, lint-clean
if command -v mandoc > /dev/null; then
	(cd "$top/man" && mandoc -Tlint -Wwarning *.1 *.5) > "$T/lint" 2>&1
	[ ! -s "$T/lint" ]; ok $? "mandoc -Tlint: every man page is clean"
	[ -s "$T/lint" ] && sed 's/^/#   /' "$T/lint" | head -10
	bad=
	for m in "$D$P"/share/man/man1/*.1 "$D$P"/share/man/man5/*.5; do
		mandoc -Tascii "$m" 2>/dev/null | sed "s/.\x08//g" > "$T/page" && grep -q "^NAME" "$T/page" &&
		{ [ "${m##*.}" != 1 ] || grep -q "^SYNOPSIS" "$T/page"; } || bad="$bad $(basename "$m")"
	done
	is "$bad" "" "every installed man page renders (NAME; SYNOPSIS in section 1)"
else
	echo "ok $((++_n)) # skip mandoc not installed"
	echo "ok $((++_n)) # skip mandoc not installed"
fi
# every program has a page, and its SYNOPSIS names its options
nopage=
for p in "${progs[@]}"; do
	[ -f "$top/man/$p.1" ] || nopage="$nopage $p"
done
is "$nopage" "" "every program has a man page"

# completions: every option of every program (and of every bigsmall command)
missing=
check_opts() {	# PROG-FOR-FILES OPTION-LISTING
	local name=$1 o
	for o in $(echo "$2" | cut -f2); do
		grep -q -- "--$o\b" "$D$P/share/bash-completion/completions/$name" || missing="$missing bash:$name:--$o"
		grep -q -- "--$o\b" "$D$P/share/zsh/vendor-completions/_$name" || missing="$missing zsh:$name:--$o"
		grep -q -- "-l $o\b" "$D$P/share/fish/vendor_completions.d/$name.fish" || missing="$missing fish:$name:--$o"
	done
}
for p in "${progs[@]}"; do
	check_opts "$p" "$("$BS_BIN/$p" --list-options)"
done
if [ -x "$BS_BIN/bigsmall" ]; then
	for c in $("$BS_BIN/bigsmall" --list-commands | cut -f1); do
		check_opts bigsmall "$("$BS_BIN/bigsmall" "$c" --list-options)"
		grep -qw "$c" "$D$P/share/bash-completion/completions/bigsmall" &&
		grep -q "'$c:" "$D$P/share/zsh/vendor-completions/_bigsmall" &&
		grep -q -- "-a $c " "$D$P/share/fish/vendor_completions.d/bigsmall.fish" || missing="$missing command:$c"
	done
fi
is "$missing" "" "every option (from --list-options) is in the bash, zsh and fish completions"
bad=
for f in "$D$P"/share/bash-completion/completions/*; do
	bash -n "$f" 2> /dev/null || bad="$bad $(basename "$f")"
done
is "$bad" "" "the bash completions parse"
(
	. "$D$P/share/bash-completion/completions/bigsmall"
	COMP_WORDS=(bigsmall comp); COMP_CWORD=1; _bigsmall; echo "${COMPREPLY[*]}"
	COMP_WORDS=(bigsmall compress --del); COMP_CWORD=2; _bigsmall; echo "${COMPREPLY[*]}"
) > "$T/comp" 2>&1
is "$(tr '\n' '|' < "$T/comp")" "compress|--delta-from|" "bash completes bigsmall's commands, then the command's options"

make -s -C "$top" -o all BIN="$BS_BIN" DESTDIR="$D" PREFIX="$P" uninstall > "$T/make.out" 2>&1; st=$?
is "$st" 0 "make uninstall"
left=$(find "$D" -type f -o -type l | sed "s|^$D||")
is "$left" "" "make uninstall leaves no file behind"

# the README's GNU parallel recipe, locally with -j2
if command -v parallel > /dev/null && [ -d "$M" ]; then
	recipe=$(awk '/^## Scaling out/ { on = 1 } on && /^```$/ { n++; if (n == 2) exit; next } on && n == 1' "$top/README.md")
	mkdir -p "$T/par/shards" && cp "$M"/*.safetensors "$T/par/shards/"
	[ -n "$recipe" ] && grep -q 'parallel -j2' <<< "$recipe"; ok $? "the README has a parallel -j2 recipe"
	(cd "$T/par" && bash -e -o pipefail -c "$recipe") > "$T/par.out" 2>&1; st=$?
	is "$st" 0 "the README's GNU parallel recipe runs"
	(cd "$T/par" && bs-decode < model.bs | bs-reshard -o restored) 2> /dev/null
	same=0
	for f in "$M"/*.safetensors; do
		cmp -s "$f" "$T/par/restored/$(basename "$f")" || same=1
	done
	ok $same "... and cat of its results restores every shard byte for byte"
else
	for i in 1 2 3; do echo "ok $((++_n)) # skip GNU parallel not installed"; done
fi

done_testing
