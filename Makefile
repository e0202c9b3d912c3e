# C and C++ builds over the Rust library, plus the two entry points README names.
#   make demo   get a token (from Sigma when SIGMA_* are set, else the bundled mock)
#   make test   the whole test suite
# PROFILE=release builds everything optimised.

PROFILE ?= debug
LIBDIR := target/$(PROFILE)
BUILD := build/$(PROFILE)
CARGO_FLAGS := $(if $(filter release,$(PROFILE)),--release,)

STRICT := -Wall -Wextra -Wpedantic -Werror
CFLAGS ?= -g -O1
CXXFLAGS ?= -g -O1
C_FLAGS := -std=c11 $(STRICT) -Iinclude $(CFLAGS)
CXX_FLAGS := -std=c++17 $(STRICT) -Iinclude $(CXXFLAGS)
# What rustc reports for a staticlib on Linux (--print native-static-libs).
SYSLIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
STATIC := $(LIBDIR)/libsigma_auth.a

PREFIX ?= /usr/local

.PHONY: all lib examples c-tests demo test install clean bench bench-quick

all: examples c-tests

lib:
	cargo build $(CARGO_FLAGS) -p sigma-auth -p sigma-mock

$(BUILD):
	mkdir -p $@

$(BUILD)/get_token: examples/c/get_token.c include/sigma_auth.h lib | $(BUILD)
	$(CC) $(C_FLAGS) $< $(STATIC) $(SYSLIBS) -o $@

$(BUILD)/get_token_cpp: examples/c/get_token.cpp include/sigma_auth.h lib | $(BUILD)
	$(CXX) $(CXX_FLAGS) $< $(STATIC) $(SYSLIBS) -o $@

$(BUILD)/test_abi: tests/c/test_abi.c include/sigma_auth.h lib | $(BUILD)
	$(CC) $(C_FLAGS) $< $(STATIC) $(SYSLIBS) -o $@

$(BUILD)/test_abi_asan: tests/c/test_abi.c include/sigma_auth.h lib | $(BUILD)
	$(CC) $(C_FLAGS) $(SANITIZE) $< $(STATIC) $(SYSLIBS) -o $@

$(BUILD)/test_fork: tests/c/test_fork.c include/sigma_auth.h lib | $(BUILD)
	$(CC) $(C_FLAGS) $< $(STATIC) $(SYSLIBS) -o $@

examples: $(BUILD)/get_token $(BUILD)/get_token_cpp

c-tests: $(BUILD)/test_abi $(BUILD)/test_abi_asan $(BUILD)/test_fork

demo: $(BUILD)/get_token
	PROFILE=$(PROFILE) scripts/demo.sh

test:
	PROFILE=$(PROFILE) scripts/test.sh

# Installs the header, both libraries and sigma_auth.pc for pkg-config users.
install: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/sigma_auth.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIBDIR)/libsigma_auth.so $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)|' \
	    -e 's|@SYSLIBS@|$(SYSLIBS)|' sigma_auth.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/sigma_auth.pc

clean:
	rm -rf build

bench:
	bench/run.sh

bench-quick:
	bench/run.sh --quick
