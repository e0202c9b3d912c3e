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
# What rustc reports a static library needs on Linux (--print native-static-libs),
# kept in one file that the .pc files, the Go binding and the tests all use.
SYSLIBS := $(shell cat native-static-libs.txt)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# The SONAME's version: MAJOR, or 0.MINOR while the major version is 0 (see build.rs).
SOABI := $(shell echo $(VERSION) | awk -F. '{print ($$1 == 0) ? $$1 "." $$2 : $$1}')
STRIP ?= strip
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
STATIC := $(LIBDIR)/libsigma_auth.a

PREFIX ?= /usr/local

.PHONY: all lib header-check examples c-tests demo test install clean bench bench-quick dist dist-check

all: examples c-tests

# Also links libsigma_auth.so.SOABI (the SONAME) beside the build tree's .so, so
# a program linked with -L target/PROFILE -lsigma_auth finds it when it starts.
lib:
	cargo build $(CARGO_FLAGS) -p sigma-auth -p sigma-token -p sigma-mock
	ln -sf libsigma_auth.so $(LIBDIR)/libsigma_auth.so.$(SOABI)

# The header stands alone: the first line of a C or C++ file, under every
# standard the project claims, with every warning an error.
header-check: | $(BUILD)
	@for std in c99 c11 c17; do \
	  printf '#include "sigma_auth.h"\nint main(void) { return 0; }\n' | \
	    $(CC) -std=$$std $(STRICT) -Iinclude -x c -c - -o $(BUILD)/header-$$std.o || exit 1; \
	done
	@for std in c++11 c++17; do \
	  printf '#include "sigma_auth.h"\nint main() { return 0; }\n' | \
	    $(CXX) -std=$$std $(STRICT) -Iinclude -x c++ -c - -o $(BUILD)/header-$$std.o || exit 1; \
	done
	@echo "include/sigma_auth.h compiles alone as C99, C11, C17, C++11 and C++17"

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

# Installs what is already built (nothing is rebuilt): the header, the static
# archive, the shared library (versioned, with its SONAME link), sigma-token,
# and two pkg-config files: sigma_auth (dynamic, with an rpath so programs run
# without LD_LIBRARY_PATH) and sigma_auth-static. Build first, e.g.
#   cargo build --release -p sigma-auth -p sigma-token && make install PROFILE=release PREFIX=/usr/local
install:
	@for f in $(STATIC) $(LIBDIR)/libsigma_auth.so; do \
	  test -f $$f || { echo "$$f is not built: run cargo build$(if $(filter release,$(PROFILE)), --release,) -p sigma-auth first" >&2; exit 1; }; \
	done
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/sigma_auth.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIBDIR)/libsigma_auth.so $(DESTDIR)$(PREFIX)/lib/libsigma_auth.so.$(VERSION)
	$(STRIP) --strip-unneeded $(DESTDIR)$(PREFIX)/lib/libsigma_auth.so.$(VERSION)
	ln -sf libsigma_auth.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libsigma_auth.so.$(SOABI)
	ln -sf libsigma_auth.so.$(SOABI) $(DESTDIR)$(PREFIX)/lib/libsigma_auth.so
	if [ -f $(LIBDIR)/sigma-token ]; then install -m 755 -s $(LIBDIR)/sigma-token $(DESTDIR)$(PREFIX)/bin/; fi
	for pc in sigma_auth sigma_auth-static; do \
	  sed -e 's|@VERSION@|$(VERSION)|' -e 's|@SYSLIBS@|$(SYSLIBS)|' $$pc.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/$$pc.pc; \
	done

# Every artifact a user installs without Rust, into dist/ (see RELEASING.md).
dist:
	scripts/dist.sh

# Installs each artifact of dist/ outside the repository, without cargo or
# rustc on PATH, and gets a token with it from the mock.
dist-check:
	scripts/dist-check.sh

clean:
	rm -rf build dist

bench:
	bench/run.sh

bench-quick:
	bench/run.sh --quick
