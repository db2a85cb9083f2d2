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
WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-format-truncation
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

$(BUILD)/libcommon.a: $(LIBOBJ)
	rm -f $@
	ar rcs $@ $^

$(BIN)/%: $(BUILD)/cmd/%.o $(BUILD)/libcommon.a
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libcommon.a $(LIBS) $(LIBS_$*) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libcommon.a $(LIBS) -o $@

deps:
	@scripts/install-deps

demo: deps
	$(MAKE) all
	@scripts/demo "$(MODEL)"

check: deps
	$(MAKE) all
	$(MAKE) SANITIZE=1 all
	BS_DATA="$(DATA)" prove -f tests/run-unit.t tests/cli/
	BS_DATA="$(DATA)" BS_BIN=bin-san BS_UNIT=build-san/tests BS_QUICK=1 prove tests/run-unit.t tests/cli/

bench: all
	@scripts/bench "$(DATA)"

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(PROGS:%=$(BIN)/%) $(DESTDIR)$(BINDIR)
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1
	install -m 644 man/*.5 $(DESTDIR)$(MANDIR)/man5
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	    $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions \
	    $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 644 completions/bash/* $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 644 completions/zsh/* $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions
	install -m 644 completions/fish/* $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d

uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(PROGS:%=$(DESTDIR)$(MANDIR)/man1/%.1) $(DESTDIR)$(MANDIR)/man5/bs-stream.5
	rm -f $(PROGS:%=$(DESTDIR)$(PREFIX)/share/bash-completion/completions/%)
	rm -f $(PROGS:%=$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_%)
	rm -f $(PROGS:%=$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/%.fish)

clean:
	rm -rf build build-san bin bin-san completions/bash completions/zsh completions/fish

.PHONY: all deps demo check bench install uninstall clean
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
