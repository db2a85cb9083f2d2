# bigsmall - one non-recursive GNU make file.
#   make            build every program into bin/
#   make demo       install what is missing, build, compress and restore the sample model
#   make check      install what is missing, build, run every test through prove
#   make bench      ratio and throughput beside zstd on ../shared/data
#   make install    PREFIX, DESTDIR, BINDIR, MANDIR honoured

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DATA    ?= $(abspath ../shared/data)
MODEL   ?= $(DATA)/models/stories260k

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-format-truncation -Wno-missing-field-initializers
BUILD   ?= build
BIN     ?= bin
ifeq ($(SANITIZE),1)
BUILD   := build-san
BIN     := bin-san
CFLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

PKGS    := libzstd libxxhash jansson libcrypto
CPPFLAGS += -Ilibcommon -D_GNU_SOURCE -MMD -MP
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lzstd -lxxhash -ljansson -lcrypto) -lpthread -lm

# every cmd/*.c is a program; each links libcommon and what it alone uses
PROGS   := $(patsubst cmd/%.c,%,$(wildcard cmd/*.c))
LIBS_bs-fetch := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
LIBS_bs-ecc   := -lerasurecode
LIBS_bs-split := $(shell pkg-config --libs libarchive 2>/dev/null || echo -larchive)
LIBSRC  := $(wildcard libcommon/*.c)
LIBOBJ  := $(LIBSRC:%.c=$(BUILD)/%.o)
UNITSRC := $(wildcard tests/unit/t_*.c)
UNITS   := $(UNITSRC:tests/unit/%.c=$(BUILD)/tests/%)

all: $(PROGS:%=$(BIN)/%) $(UNITS) completions/bash/bs-split

# shell completions, generated from the programs' own option tables
completions/bash/bs-split: $(PROGS:%=$(BIN)/%) scripts/gen-completions
	scripts/gen-completions $(BIN) completions

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

# XXH3 for AVX2, chosen at run time (hash.c)
$(BUILD)/libcommon/hash_avx2.o: CFLAGS += -mavx2

$(BUILD)/libcommon.a: $(LIBOBJ)
	rm -f $@
	ar rcs $@ $^

$(BIN)/%: $(BUILD)/cmd/%.o $(BUILD)/libcommon.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libcommon.a $(LIBS) $(LIBS_$*) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libcommon.a $(LIBS) -o $@

# the Debian packages each purpose needs (scripts/install-deps)
deps:
	@scripts/install-deps check

demo:
	@scripts/install-deps build
	$(MAKE) all
	@scripts/demo "$(MODEL)"

check: deps
	$(MAKE) all
	$(MAKE) SANITIZE=1 all
	BS_DATA="$(DATA)" prove -f tests/run-unit.t tests/cli/
	BS_DATA="$(DATA)" BS_BIN=bin-san BS_UNIT=build-san/tests BS_QUICK=1 prove tests/run-unit.t tests/cli/
	if command -v $(FUZZ_CC) >/dev/null; then $(MAKE) fuzz-smoke; else echo "check: no $(FUZZ_CC), fuzz smoke skipped"; fi

bench:
	@scripts/install-deps bench
	$(MAKE) all
	@scripts/bench "$(DATA)" $(BENCH)

# Debian's places: bash-completion's completions/, zsh's vendor-completions,
# fish's vendor_completions.d (under $(PREFIX)/share)
COMPDIR_BASH ?= $(PREFIX)/share/bash-completion/completions
COMPDIR_ZSH  ?= $(PREFIX)/share/zsh/vendor-completions
COMPDIR_FISH ?= $(PREFIX)/share/fish/vendor_completions.d
MAN1    := $(notdir $(wildcard man/*.1))
MAN5    := $(notdir $(wildcard man/*.5))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(PROGS:%=$(BIN)/%) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN1:%=man/%) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN5:%=man/%) $(DESTDIR)$(MANDIR)/man5
	install -d $(DESTDIR)$(COMPDIR_BASH) $(DESTDIR)$(COMPDIR_ZSH) $(DESTDIR)$(COMPDIR_FISH)
	install -m 644 $(PROGS:%=completions/bash/%) $(DESTDIR)$(COMPDIR_BASH)
	install -m 644 $(PROGS:%=completions/zsh/_%) $(DESTDIR)$(COMPDIR_ZSH)
	install -m 644 $(PROGS:%=completions/fish/%.fish) $(DESTDIR)$(COMPDIR_FISH)

uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(MAN1:%=$(DESTDIR)$(MANDIR)/man1/%) $(MAN5:%=$(DESTDIR)$(MANDIR)/man5/%)
	rm -f $(PROGS:%=$(DESTDIR)$(COMPDIR_BASH)/%)
	rm -f $(PROGS:%=$(DESTDIR)$(COMPDIR_ZSH)/_%)
	rm -f $(PROGS:%=$(DESTDIR)$(COMPDIR_FISH)/%.fish)

clean:
	rm -rf build build-san bin bin-san completions/bash completions/zsh completions/fish

.PHONY: all deps demo check bench install uninstall clean
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ------------------------------------------------------------------ fuzzing
# make fuzz [FUZZ_SECONDS=600]  build the libFuzzer targets tests/fuzz/fuzz_*.c
#     into build-fuzz/ (clang, ASan and UBSan, libcommon's sources compiled in),
#     seed each from valid inputs (bs-split of small generated models, their
#     encoded streams, safetensors headers, codec payloads, index payloads),
#     run each for FUZZ_SECONDS, and copy what crashes into tests/vectors/bad/
# make fuzz-smoke               the same for FUZZ_SMOKE_SECONDS each, for make check
# Both first run each target once on its saved inputs tests/vectors/bad/<target>-*
# (what fuzzing found before); FUZZ_EXTRA adds compiler flags (a rebuild:
# rm -rf build-fuzz), e.g. -fno-sanitize=pointer-overflow to fuzz past a
# known finding.
FUZZ_CC       ?= clang-14
FUZZ_SECONDS  ?= 600
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_EXTRA    ?=
FUZZ_CFLAGS   := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined $(FUZZ_EXTRA)
FUZZ_TARGETS  := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIBOBJ   := $(LIBSRC:libcommon/%.c=build-fuzz/lib/%.o)
FUZZ_RUN      = for t in $(FUZZ_TARGETS); do \
	    mkdir -p build-fuzz/corpus/$$t build-fuzz/crash/$$t; \
	    for f in tests/vectors/bad/$$t-*; do [ -f "$$f" ] || continue; \
	        UBSAN_OPTIONS=print_stacktrace=1 build-fuzz/$$t "$$f" > build-fuzz/$$t.replay.log 2>&1 || \
	        { echo "fuzz: $$t FAILED on the saved $$f: see build-fuzz/$$t.replay.log"; fail=1; }; \
	    done; \
	    echo "fuzz: $$t for $(1) s"; \
	    build-fuzz/$$t -max_total_time=$(1) -timeout=20 -rss_limit_mb=2048 -max_len=262144 \
	        -print_final_stats=1 -artifact_prefix=build-fuzz/crash/$$t/ \
	        build-fuzz/corpus/$$t build-fuzz/seeds/$$t 2> build-fuzz/$$t.log \
	    || { echo "fuzz: $$t FAILED: see build-fuzz/$$t.log"; fail=1; }; \
	    grep -E '^stat::number_of_executed_units|^Done' build-fuzz/$$t.log | sed "s/^/fuzz: $$t: /"; \
	done;

build-fuzz/lib/%.o: libcommon/%.c libcommon/bs.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

build-fuzz/libcommon.a: $(FUZZ_LIBOBJ)
	rm -f $@
	ar rcs $@ $^

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h build-fuzz/libcommon.a
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< build-fuzz/libcommon.a $(LIBS) -o $@

build-fuzz/seeds.stamp: tests/fuzz/seeds.c $(BUILD)/libcommon.a $(BIN)/bs-split $(BIN)/bs-encode tests/mkst.pl
	rm -rf build-fuzz/seeds build-fuzz/model
	mkdir -p build-fuzz/model/sub
	perl tests/mkst.pl build-fuzz/model/a.safetensors w:BF16:3000 h:F16:700 f:F32:300 \
	    e4:F8_E4M3:500 e5:F8_E5M2:300 i:U8:200 j:I32:50 s:F32: z:F32:0,4 \
	    r:F16:64,64:rows
	perl tests/mkst.pl --seed 3 --meta k=v build-fuzz/model/sub/b.safetensors x:BF16:64,64 q:F4:64
	echo '{"a":1}' > build-fuzz/model/config.json
	$(BIN)/bs-split -c 4096 build-fuzz/model > build-fuzz/model.raw.bs
	$(BIN)/bs-encode < build-fuzz/model.raw.bs > build-fuzz/model.bs
	$(BIN)/bs-encode -l 19 < build-fuzz/model.raw.bs > build-fuzz/model.19.bs
	$(CC) $(CPPFLAGS) $(CFLAGS) tests/fuzz/seeds.c $(BUILD)/libcommon.a $(LIBS) -o build-fuzz/seeds-gen
	build-fuzz/seeds-gen build-fuzz/seeds build-fuzz/model.raw.bs build-fuzz/model.bs build-fuzz/model.19.bs
	touch $@

fuzz: $(FUZZ_TARGETS:%=build-fuzz/%) build-fuzz/seeds.stamp
	@fail=0; $(call FUZZ_RUN,$(FUZZ_SECONDS)) \
	for t in $(FUZZ_TARGETS); do for f in build-fuzz/crash/$$t/*; do \
	    [ -f "$$f" ] || continue; \
	    cp "$$f" "tests/vectors/bad/$$t-$$(basename "$$f")"; \
	    echo "fuzz: $$t: saved tests/vectors/bad/$$t-$$(basename "$$f")"; \
	done; done; exit $$fail

fuzz-smoke: $(FUZZ_TARGETS:%=build-fuzz/%) build-fuzz/seeds.stamp
	@fail=0; $(call FUZZ_RUN,$(FUZZ_SMOKE_SECONDS)) exit $$fail

.PHONY: fuzz fuzz-smoke
