# Foleni — top-level build.
#
#   make          build every component into build/ (git ignores it)
#   make check    install missing packages (as root), build, run every test suite,
#                 then build and run the unit tests again under ASan + UBSan
#   make run      install missing packages (as root), build, start the system
#   make demo     build, then play a simulated day and report (docs/simday.md)
#   make deps     only the package step
#   make install  the programs a site runs, their pages and docs, under PREFIX
#                 (/usr/local), staged under DESTDIR if given (docs/operations.md)
#
# One pattern rule per kind of artefact.  A component folder holds library sources
# plus, optionally, programs named foleni-*.c; tests/test_*.c are Check suites.
# Sanitizer builds reuse these rules with BUILD=build/asan SANITIZE=1.

BUILD    ?= build
SANITIZE ?=

# Debian packages the build, the tests and `make run` need.
DEB_PACKAGES := build-essential pkg-config libzmq3-dev libczmq-dev liblmdb-dev \
                libmicrohttpd-dev libmsgpack-dev check libsubunit-dev libjansson-dev \
                libcurl4-openssl-dev libsodium-dev libncurses-dev tmux chromium \
                chromium-driver fonts-dejavu-core libqrencode-dev tzdata
PKGS := libczmq libzmq lmdb msgpack jansson libsodium libmicrohttpd libcurl ncursesw libqrencode

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -MMD -MP
LDLIBS  += -lm -lpthread
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
# pkg-config is asked only when building, so `make deps` works on a bare machine.
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS) check 2>/dev/null)
PKG_LIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS  = $(shell pkg-config --libs check 2>/dev/null)

# Components: each folder's library sources (all .c but foleni-*.c) make
# $(BUILD)/lib/<folder>.a; each foleni-NAME.c in it is a program linked
# against its own folder's library, the store and libfoleni.
COMPONENTS := libfoleni store broker scheduler counter display portal bench
comp_src    = $(filter-out $(1)/foleni-%.c,$(wildcard $(1)/*.c))
comp_lib    = $(if $(call comp_src,$(1)),$(BUILD)/lib/$(1).a)
LIBFOLENI  := $(BUILD)/lib/libfoleni.a
LIBSTORE   := $(BUILD)/lib/store.a
LIBS       := $(foreach c,$(COMPONENTS),$(call comp_lib,$(c)))

PROG_SRC   := $(foreach c,$(COMPONENTS),$(wildcard $(c)/foleni-*.c))
PROGS      := $(addprefix $(BUILD)/bin/,$(basename $(notdir $(PROG_SRC))))
TEST_SRC   := $(wildcard tests/test_*.c)
TESTLIB_SRC:= $(filter-out tests/test_%.c,$(wildcard tests/*.c))
TESTS      := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TESTLIB_OBJ:= $(patsubst %.c,$(BUILD)/obj/%.o,$(TESTLIB_SRC))

.PHONY: all deps check test test-asan run demo install clean
# Keep objects between runs (make would delete them as intermediates).
.SECONDARY:
all: $(PROGS) $(TESTS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

define LIBRARY_RULE
$(BUILD)/lib/$(1).a: $(patsubst %.c,$(BUILD)/obj/%.o,$(call comp_src,$(1)))
	@mkdir -p $$(dir $$@)
	$$(AR) rcs $$@ $$^
endef
$(foreach c,$(COMPONENTS),$(if $(call comp_src,$(c)),$(eval $(call LIBRARY_RULE,$(c)))))

# A program links its own folder's library (if any), then every other
# component's, the store and libfoleni (benchmarks drive the scheduler's
# library in process); the linker takes only what it uses.
TEST_LIBS := $(filter-out $(LIBSTORE) $(LIBFOLENI),$(LIBS)) $(LIBSTORE) $(LIBFOLENI)
define PROGRAM_RULE
$(BUILD)/bin/$(basename $(notdir $(1))): $(BUILD)/obj/$(1:.c=.o) $(call comp_lib,$(patsubst %/,%,$(dir $(1)))) $(TEST_LIBS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $$(filter %.o %.a,$$^) -o $$@ $$(PKG_LIBS) $$(LDLIBS)
endef
$(foreach p,$(PROG_SRC),$(eval $(call PROGRAM_RULE,$(p))))

# Suites may test any component's library directly (the scheduler's rules,
# say), so they link them all: components first, then the store, then libfoleni.
$(BUILD)/tests/test_%: $(BUILD)/obj/tests/test_%.o $(TESTLIB_OBJ) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(PKG_LIBS) $(CHECK_LIBS) $(LDLIBS)

# ---- packages ---------------------------------------------------------------
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done | tr '\n' ' '); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing $$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing || exit 1; \
	  else \
	    echo "deps: missing Debian packages; as root run:"; \
	    echo "  apt-get install -y $$missing"; \
	    exit 1; \
	  fi; \
	fi

# ---- tests ------------------------------------------------------------------
# `test` runs every suite of this build; `check` does it twice: plain, then
# under AddressSanitizer + UndefinedBehaviorSanitizer in build/asan.
test: all
	@tests/run-suites $(BUILD)/tests $(BUILD)/bin

test-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 test

check: deps
	@$(MAKE) --no-print-directory test
	@$(MAKE) --no-print-directory test-asan

run: deps
	@$(MAKE) --no-print-directory all
	@deploy/run-local $(BUILD)/bin

# A whole simulated day at the demo office through the real broker and
# scheduler, the scheduler's clock 300 times faster (about 2 minutes; see
# docs/simday.md).  Options go in DEMO_ARGS: make demo DEMO_ARGS="--seed 7 --json".
DEMO_ARGS ?=
demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/bin/foleni-simday $(BUILD)/bin/foleni-broker \
	    $(BUILD)/bin/foleni-scheduler $(BUILD)/bin/foleni-store
	@$(BUILD)/bin/foleni-simday $(DEMO_ARGS)

# ---- install ----------------------------------------------------------------
# What a site runs (docs/operations.md, "Install"): not the benchmarks, not the
# tests.  The systemd units, keys and configuration are the operator's steps.
PREFIX  ?= /usr/local
DESTDIR ?=
SITE_PROGRAMS := broker scheduler portal display counter store config call echo keygen
install: $(addprefix $(BUILD)/bin/foleni-,$(SITE_PROGRAMS))
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/foleni/portal \
	    $(DESTDIR)$(PREFIX)/share/foleni/display $(DESTDIR)$(PREFIX)/share/doc/foleni
	for p in $(SITE_PROGRAMS); do install -m 0755 $(BUILD)/bin/foleni-$$p $(DESTDIR)$(PREFIX)/bin/ || exit 1; done
	install -m 0755 deploy/systemd/foleni-backup deploy/monitoring/foleni-broker-stats $(DESTDIR)$(PREFIX)/bin/
	rm -rf $(DESTDIR)$(PREFIX)/share/foleni/portal/www $(DESTDIR)$(PREFIX)/share/foleni/display/www
	cp -r portal/www $(DESTDIR)$(PREFIX)/share/foleni/portal/www
	cp -r display/www $(DESTDIR)$(PREFIX)/share/foleni/display/www
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/foleni/

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
