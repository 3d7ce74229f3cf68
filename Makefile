# SPDX-License-Identifier: GPL-2.0
# iopfkit: SVA and I/O page fault observability and policies.
#
#   make demo            set everything up and run the demo in a VM
#   make check           build everything and run every test
#   make help            the other targets
#
# Variables: KERNEL_FLAVOR=default|debug|kcsan, VMLINUX_BTF=FILE (BTF the BPF
# programs are compiled against; /sys/kernel/btf/vmlinux on a machine
# running a patched kernel), V=1 for full commands.

KERNEL_FLAVOR ?= default
BUILD := build
TOP := $(CURDIR)
ABUILD := $(TOP)/$(BUILD)
KSRC := $(BUILD)/linux
KBUILD := $(BUILD)/kbuild-$(KERNEL_FLAVOR)
BZIMAGE := $(KBUILD)/arch/x86/boot/bzImage
VMLINUX_BTF ?= $(BUILD)/kbuild-default/vmlinux
SERIES_STAMP := $(BUILD)/.series-stamp

CLANG ?= clang-19
LLVM_STRIP ?= llvm-strip-19
CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

LIBBPF_OUT := $(BUILD)/libbpf
LIBBPF_A := $(LIBBPF_OUT)/usr/lib64/libbpf.a
LIBBPF_INC := $(LIBBPF_OUT)/usr/include
BPFTOOL := $(BUILD)/bpftool/bpftool
VMLINUX_H := $(BUILD)/gen/vmlinux.h

ifeq ($(V),1)
Q :=
msg := @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CFLAGS := -g -O2 -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -std=gnu11
CPPFLAGS := -Iinclude -I$(LIBBPF_INC) -I$(BUILD)/skel
LDLIBS := $(LIBBPF_A) -lelf -lz
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
	-Iinclude -Ibpf -I$(BUILD)/gen -I$(LIBBPF_INC)

# BPF objects: one per tool in bpf/, the bundled fault policies in
# bpf/policies/ (built into iopf-policy), test programs in tests/vm/progs/
POLICY_SRCS := $(wildcard bpf/policies/*.bpf.c)
POLICIES := $(patsubst bpf/policies/%.bpf.c,%,$(POLICY_SRCS))
BPF_SRCS := $(wildcard bpf/*.bpf.c) $(POLICY_SRCS) $(wildcard tests/vm/progs/*.bpf.c)
BPF_OBJS := $(patsubst %.bpf.c,$(BUILD)/bpfobj/%.bpf.o,$(notdir $(BPF_SRCS)))
SKELS := $(patsubst %.bpf.c,$(BUILD)/skel/%.skel.h,$(notdir $(BPF_SRCS)))
vpath %.bpf.c bpf bpf/policies tests/vm/progs

# Tools: one file per tool in tools/, its BPF object bpf/TOOL.bpf.c, the
# shared helpers of tools/lib; libbpf linked statically, no LLVM at run time
TOOLS := $(patsubst tools/%.c,$(BUILD)/bin/%,$(wildcard tools/*.c))
TOOLS_LIB := $(BUILD)/tools/libiopfkit.a
TOOLS_LIB_OBJS := $(patsubst tools/lib/%.c,$(BUILD)/tools/%.o,$(wildcard tools/lib/*.c))
# the UAPI of the kernel the tools are for (link info of struct_ops links)
TOOLS_CPPFLAGS := $(CPPFLAGS) -Itools/lib -I$(KSRC)/tools/include/uapi
TOOLS_LDLIBS := $(TOOLS_LIB) $(LIBBPF_A) -lelf -lz -lcap
# what a tool needs beyond that
LDLIBS_iopf-exporter := -lmicrohttpd

# In-VM tests: one program per tests/vm/*.c (kselftest harness)
VM_TESTS := $(patsubst tests/vm/%.c,$(BUILD)/tests/vm/%,$(wildcard tests/vm/*.c))
BENCHES := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/*.c))
# kselftest_harness.h's TEST_F wrapper trips -Wclobbered (from -Wextra) on
# its own setjmp bookkeeping, not on ours
SELFTESTS_INC := -I$(KSRC)/tools/testing/selftests -Wno-clobbered

.PHONY: all deps kernel kernel-tree kernel-patches libbpf bpftool vmlinux.h \
	bpf tools install tests check check-host check-vm demo vm-shell bench bench-swsva \
	bench-tracepoints bench-policy bench-tools bench-policies clean distclean help
.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS) $(SKELS)

all: bpf tools tests

help:
	@sed -n '2,12p' Makefile | sed 's/^# \{0,1\}//'
	@echo 'Targets: deps kernel kernel-patches libbpf bpftool vmlinux.h bpf tools install tests'
	@echo '         check check-host check-vm demo vm-shell bench (bench-swsva'
	@echo '         bench-tracepoints bench-policy bench-tools bench-policies) clean'
	@echo '         distclean'

deps:
	$(Q)scripts/deps.sh

# --- kernel -----------------------------------------------------------------

kernel:
	$(Q)scripts/deps.sh -q
	$(Q)scripts/kernel.sh build $(KERNEL_FLAVOR)

kernel-tree $(SERIES_STAMP):
	$(Q)scripts/deps.sh -q
	$(Q)scripts/kernel.sh tree

kernel-patches:
	$(Q)scripts/kernel.sh format-patch

$(BZIMAGE):
	$(Q)$(MAKE) --no-print-directory kernel

# --- libbpf, bpftool, vmlinux.h from the same kernel tree --------------------

libbpf: $(LIBBPF_A)
$(LIBBPF_A): $(SERIES_STAMP)
	$(call msg,LIBBPF,$@)
	$(Q)mkdir -p $(LIBBPF_OUT)/obj
	$(Q)$(MAKE) -s -C $(KSRC)/tools/lib/bpf BUILD_STATIC_ONLY=1 \
		OUTPUT=$(ABUILD)/libbpf/obj/ DESTDIR=$(ABUILD)/libbpf prefix=/usr \
		install >/dev/null
	$(Q)touch $@

bpftool: $(BPFTOOL)
$(BPFTOOL): $(SERIES_STAMP)
	$(call msg,BPFTOOL,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(MAKE) -s -C $(KSRC)/tools/bpf/bpftool OUTPUT=$(ABUILD)/bpftool/ \
		CLANG=$(CLANG) LLVM_STRIP=$(LLVM_STRIP) >/dev/null
	$(Q)touch $@

vmlinux.h: $(VMLINUX_H)
$(VMLINUX_H): $(VMLINUX_BTF) $(BPFTOOL)
	$(call msg,GEN,$@ from $(VMLINUX_BTF))
	$(Q)mkdir -p $(dir $@)
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

ifeq ($(VMLINUX_BTF),$(BUILD)/kbuild-default/vmlinux)
$(VMLINUX_BTF):
	$(Q)$(MAKE) --no-print-directory kernel KERNEL_FLAVOR=default
endif

# --- BPF programs and skeletons ----------------------------------------------

bpf: $(SKELS)

$(BUILD)/bpfobj/%.bpf.o: %.bpf.c $(VMLINUX_H) $(LIBBPF_A) $(wildcard include/*.h bpf/*.h bpf/policies/*.h) | $(BUILD)/bpfobj
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(BUILD)/skel/%.skel.h: $(BUILD)/bpfobj/%.bpf.o $(BPFTOOL) | $(BUILD)/skel
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/bpfobj $(BUILD)/skel $(BUILD)/tests/vm $(BUILD)/bench $(BUILD)/bin $(BUILD)/tools:
	$(Q)mkdir -p $@

# --- tools ------------------------------------------------------------------

tools: $(TOOLS)

$(BUILD)/tools/%.o: tools/lib/%.c $(LIBBPF_A) | $(BUILD)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(TOOLS_CPPFLAGS) -MMD -MP -c $< -o $@

$(TOOLS_LIB): $(TOOLS_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/%: tools/%.c $(BUILD)/skel/%.skel.h $(TOOLS_LIB) $(LIBBPF_A) | $(BUILD)/bin $(BUILD)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(TOOLS_CPPFLAGS) -MMD -MP -MF $(BUILD)/tools/$*.d $< -o $@ \
		$(TOOLS_LDLIBS) $(LDLIBS_$*)

# iopf-policy's own BPF object reads the kernel's policies; it carries the
# bundled policies' too
$(BUILD)/bin/iopf-policy: tools/iopf-policy.c $(BUILD)/skel/iopf-policy.skel.h \
		$(patsubst %,$(BUILD)/skel/%.skel.h,$(POLICIES)) \
		$(TOOLS_LIB) $(LIBBPF_A) | $(BUILD)/bin $(BUILD)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(TOOLS_CPPFLAGS) -MMD -MP -MF $(BUILD)/tools/iopf-policy.d $< -o $@ \
		$(TOOLS_LDLIBS)

# The tools and their man pages, for a machine that runs the patched kernel;
# the bundled policies' objects and the headers, for writing policies
PREFIX ?= /usr/local
install: $(TOOLS) $(patsubst %,$(BUILD)/bpfobj/%.bpf.o,$(POLICIES)) $(BUILD)/bpfobj/iopf-policy.bpf.o
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/iopfkit/policies $(DESTDIR)$(PREFIX)/include/iopfkit
	install -m 0755 $(TOOLS) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 $(patsubst $(BUILD)/bin/%,docs/man/%.8,$(TOOLS)) \
		$(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 $(patsubst %,$(BUILD)/bpfobj/%.bpf.o,$(POLICIES)) \
		$(DESTDIR)$(PREFIX)/share/iopfkit/policies/
	install -m 0644 $(BUILD)/bpfobj/iopf-policy.bpf.o $(DESTDIR)$(PREFIX)/share/iopfkit/
	install -m 0644 include/iopf_policy.h include/iopf_events.h bpf/iopf_policy.bpf.h \
		$(DESTDIR)$(PREFIX)/include/iopfkit/

# --- tests ------------------------------------------------------------------

tests: $(VM_TESTS) $(BENCHES) $(TOOLS)

$(BUILD)/tests/vm/%: tests/vm/%.c $(SKELS) $(LIBBPF_A) | $(BUILD)/tests/vm
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(CPPFLAGS) $(SELFTESTS_INC) -MMD -MP $< -o $@ $(LDLIBS)

$(BUILD)/bench/%: tests/bench/%.c | $(BUILD)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(CPPFLAGS) -MMD -MP $< -o $@

-include $(wildcard $(BUILD)/tests/vm/*.d $(BUILD)/bench/*.d $(BUILD)/tools/*.d)

check-host:
	$(Q)tests/run-host.sh

check-vm: $(BZIMAGE) tests
	$(Q)tests/run-vm.sh

# CHECK_FLAVORS: the kernels whose in-VM suites make check runs (CI adds
# debug: KASAN, lockdep, kmemleak)
CHECK_FLAVORS ?= default

check:
	$(Q)scripts/deps.sh -q
	$(Q)for f in $(CHECK_FLAVORS); do \
		$(MAKE) --no-print-directory kernel KERNEL_FLAVOR=$$f || exit 1; done
	$(Q)$(MAKE) --no-print-directory tests $(BPFTOOL)
	$(Q)CHECK_FLAVORS="$(CHECK_FLAVORS)" tests/check.sh

# --- demo, shell, bench -----------------------------------------------------

# The patches before the first one that touches $(1): the baseline kernel
# of a benchmark of what that patch adds
patches_before = $(shell n=0; for p in $$(sed -e 's/\#.*//' kernel-patches/series); do \
	grep -q '^+++ b/$(1)' kernel-patches/$$p && break; \
	n=$$((n + 1)); done; echo $$n)
# bench-tracepoints compares against the series without iommu trace events,
# bench-policy against the series without fault policies
BENCH_BASE ?= $(call patches_before,include/trace/events/iommu.h)
POLICY_BASE ?= $(call patches_before,drivers/iommu/iommu-fault-policy.c)
# Guest time of the benchmarks: QEMU -icount shift (deterministic), and the
# wall-clock runs beside them
BENCH_ICOUNT ?= 3

bench: bench-swsva bench-tracepoints bench-policy bench-tools bench-policies

bench-swsva: $(BZIMAGE) $(BENCHES)
	$(Q)scripts/vm-run.sh -f $(KERNEL_FLAVOR) -c 1 -d $(BENCH_ICOUNT) -t 1800 -- \
		scripts/bench.sh icount
	$(Q)scripts/vm-run.sh -f $(KERNEL_FLAVOR) -t 1800 -- scripts/bench.sh wall

bench-tracepoints: $(BENCHES)
	$(Q)scripts/deps.sh -q
	$(Q)$(MAKE) --no-print-directory kernel KERNEL_FLAVOR=default
	$(Q)scripts/kernel.sh build-first $(BENCH_BASE)
	$(Q)BENCH_ICOUNT=$(BENCH_ICOUNT) BENCH_BOOTS=$${BENCH_BOOTS:-3} \
		scripts/bench-kernels.sh tracepoints $(BENCH_BASE) off on
	$(Q)BENCH_ICOUNT= BENCH_BOOTS=$${BENCH_BOOTS:-5} \
		scripts/bench-kernels.sh tracepoints $(BENCH_BASE) off on

bench-policy: $(BENCHES) bpf
	$(Q)scripts/deps.sh -q
	$(Q)$(MAKE) --no-print-directory kernel KERNEL_FLAVOR=default
	$(Q)scripts/kernel.sh build-first $(POLICY_BASE)
	$(Q)BENCH_ICOUNT=$(BENCH_ICOUNT) BENCH_BOOTS=$${BENCH_BOOTS:-3} \
		scripts/bench-kernels.sh policy $(POLICY_BASE) off pass group other
	$(Q)BENCH_ICOUNT= BENCH_BOOTS=$${BENCH_BOOTS:-5} \
		scripts/bench-kernels.sh policy $(POLICY_BASE) off pass group other

# The tools: start-up and memory against bpftrace (wall clock: their
# start-up waits on file reads, which icount does not make repeatable),
# then the fault rate with nothing, iopf-top or its bpftrace equivalent
# attached, on the full series
bench-tools: $(BENCHES) tools
	$(Q)scripts/deps.sh -q
	$(Q)$(MAKE) --no-print-directory kernel KERNEL_FLAVOR=default
	$(Q)scripts/vm-run.sh -f default -c 1 -t 1800 -- scripts/bench-tools-guest.sh wall
	$(Q)BENCH_ICOUNT=$(BENCH_ICOUNT) BENCH_BOOTS=$${BENCH_BOOTS:-3} \
		scripts/bench-kernels.sh tools full top bpftrace
	$(Q)BENCH_ICOUNT= BENCH_BOOTS=$${BENCH_BOOTS:-5} \
		scripts/bench-kernels.sh tools full top bpftrace

# The bundled policies on a 64 MiB DMA, streaming and at random, next to
# the CPU's first touch: no policy, passthrough, prefault
bench-policies: $(BENCHES) tools
	$(Q)scripts/deps.sh -q
	$(Q)$(MAKE) --no-print-directory kernel KERNEL_FLAVOR=default
	$(Q)BENCH_ICOUNT=$(BENCH_ICOUNT) BENCH_BOOTS=$${BENCH_BOOTS:-3} scripts/bench-policies.sh
	$(Q)BENCH_ICOUNT=$(BENCH_ICOUNT) BENCH_BOOTS=$${BENCH_BOOTS:-3} \
		BENCH_QEMU_CPU=max,-erms,-fsrm scripts/bench-policies.sh
	$(Q)BENCH_ICOUNT= BENCH_BOOTS=$${BENCH_BOOTS:-3} scripts/bench-policies.sh

demo:
	$(Q)scripts/deps.sh -q
	$(Q)$(MAKE) --no-print-directory kernel
	$(Q)$(MAKE) --no-print-directory all $(BPFTOOL)
	$(Q)scripts/vm-run.sh -f $(KERNEL_FLAVOR) -- scripts/demo.sh

vm-shell: $(BZIMAGE)
	$(Q)scripts/vm-run.sh -f $(KERNEL_FLAVOR) --shell

clean:
	rm -rf $(BUILD)/bpfobj $(BUILD)/skel $(BUILD)/tests $(BUILD)/gen $(BUILD)/vm

distclean:
	rm -rf $(BUILD)
