// SPDX-License-Identifier: GPL-2.0
/*
 * iopf-policy: load, attach, list and detach BPF I/O page fault policies
 * (struct iommu_fault_ops, Documentation/iommu/fault-policies.rst).
 *
 *   iopf-policy list                       bundled and attached policies
 *   iopf-policy run POLICY [target] [OPT=VALUE...]
 *                                          attach, print counters and
 *                                          events until Ctrl-C or detach
 *   iopf-policy attach POLICY [target] [OPT=VALUE...]
 *                                          attach with a pinned link
 *   iopf-policy detach NAME                detach an attached policy
 *   iopf-policy help POLICY                what it does, its options
 *
 * POLICY is a bundled policy (bpf/policies/, built in) or a user's .bpf.o
 * with one struct iommu_fault_ops. Both are held to the same contract
 * (include/iopf_policy.h): options are the object's .rodata globals,
 * counters its .bss integers, the exit reason its iopf_exit, events its
 * iopf_events ring buffer.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "iopfkit.h"
#include "iopf_events.h"
#include "iopf_policy.h"
#include "iopf_policies.h"
#include "passthrough.skel.h"
#include "ratelimit.skel.h"
#include "range-guard.skel.h"
#include "prefault.skel.h"
#include "fault-trace.skel.h"
#include "iopf-policy.skel.h"

static const char *const tool = "iopf-policy";

/* Exit codes, as docs/man/iopf-policy.8 lists them */
enum {
	EXIT_ERROR = 1,		/* anything else */
	EXIT_USAGE = 2,		/* bad command, flag or policy option */
	EXIT_NO_KERNEL = 3,	/* kernel without iommu_fault_ops */
	EXIT_PRIVILEGE = 4,	/* not allowed to load BPF */
	EXIT_BUSY = 5,		/* target (or pin name) taken */
	EXIT_NOT_FOUND = 6,	/* device, process, policy or file */
	EXIT_REJECTED = 7,	/* the verifier (or libbpf) refused the object */
	EXIT_DETACHED = 8,	/* run: the kernel detached the policy */
};

#define PIN_ROOT		"/sys/fs/bpf/iopfkit"
#define DEBUGFS_POLICIES	"/sys/kernel/debug/iommu/fault_policies"
#define POLICY_NAME_LEN		32	/* IOMMU_FAULT_POLICY_NAME_LEN */

/* ---- the bundled policies ------------------------------------------------ */

struct policy;

struct policy_option {
	const char *name;
	const char *help;
	/* symbolic values, their index is the number; NULL: numbers only */
	const char *const *values;
	long long min, max;
	/* an option that is not a .rodata global: parsed into the policy */
	int (*parse)(struct policy *p, const char *val);
};

struct bundled {
	const char *name;
	const char *summary;
	const char *doc;
	const void *(*elf_bytes)(size_t *sz);
	const struct policy_option *opts;
	/* after the load, before the attach */
	int (*setup)(struct policy *p);
};

static const char *const verdict_names[] = { "default", "invalid", "failure", NULL };

static const struct policy_option no_opts[] = { {} };

static const struct policy_option ratelimit_opts[] = {
	{ .name = "rate", .min = 1, .max = 1000000000,
	  .help = "groups per second each bucket lets through (default 1000)" },
	{ .name = "burst", .min = 1, .max = 1000000,
	  .help = "groups a bucket lets through at once (default 32)" },
	{ .name = "per_device", .min = 0, .max = 1,
	  .help = "0: a bucket per device and PASID (default), 1: per device" },
	{ .name = "verdict", .values = verdict_names, .min = 1, .max = 2,
	  .help = "answer for groups over budget: invalid (default) or failure" },
	{},
};

static int parse_range(struct policy *p, const char *val);
static int range_guard_setup(struct policy *p);

static const struct policy_option range_guard_opts[] = {
	{ .name = "allow", .parse = parse_range,
	  .help = "[PASID:]START-END or [PASID:]START+LEN[K|M|G]: an address range "
		  "the device may fault in (repeat for more, up to 64; without "
		  "PASID: every PASID of the target)" },
	{ .name = "verdict", .values = verdict_names, .min = 1, .max = 2,
	  .help = "answer for a request outside: invalid (default) or failure" },
	{ .name = "report", .min = 0, .max = 1,
	  .help = "1: an event per denied request (default), 0: count only" },
	{},
};

static const struct policy_option prefault_opts[] = {
	{ .name = "window", .min = 1, .max = 256,
	  .help = "pages kept faulted in ahead of a stream (default 16)" },
	{ .name = "detect", .min = 1, .max = 1000000,
	  .help = "sequential requests that make a stream (default 2)" },
	{ .name = "gap", .min = 0, .max = 1 << 20,
	  .help = "pages a request may skip and still continue its stream (default 0)" },
	{},
};

static const struct policy_option fault_trace_opts[] = {
	{ .name = "trace_requests", .min = 0, .max = 1,
	  .help = "1: every request too (default), 0: groups, responses, binds" },
	{},
};

static const struct bundled bundled[] = {
	{ .name = "passthrough", .summary = "counts groups and requests; changes nothing",
	  .doc = "Counts groups and their requests and leaves every decision to the\n"
	  "kernel: the cost of a policy that does nothing (one callback per group),\n"
	  "and a check of the device's counters.",
	  .elf_bytes = passthrough_bpf__elf_bytes, .opts = no_opts },
	{ .name = "ratelimit", .summary = "a token bucket per PASID or device; groups over budget refused",
	  .doc = "Decides at group dispatch: a group within its bucket's budget goes to the\n"
	  "kernel, one over it is answered at once (Invalid Request, or Response\n"
	  "Failure) without touching the process's memory. Keeps a noisy device or\n"
	  "tenant from monopolizing the fault path.",
	  .elf_bytes = ratelimit_bpf__elf_bytes, .opts = ratelimit_opts },
	{ .name = "range-guard", .summary = "an allow-list of address ranges; requests outside denied",
	  .doc = "Denies every page request outside the allowed ranges, before the kernel\n"
	  "faults anything in, and reports its address: memory outside stays\n"
	  "untouched by a device running untrusted code. It guards faults only:\n"
	  "pages already present in the process's page tables need none.",
	  .elf_bytes = range_guard_bpf__elf_bytes, .opts = range_guard_opts,
	  .setup = range_guard_setup },
	{ .name = "prefault", .summary = "detects sequential streams and faults a window ahead",
	  .doc = "Watches the requests of each PASID; once `detect` of them follow each\n"
	  "other, it faults in `window` pages ahead of the stream, so a streaming\n"
	  "device finds its next pages present. Random access does not trigger it.",
	  .elf_bytes = prefault_bpf__elf_bytes, .opts = prefault_opts },
	{ .name = "fault-trace", .summary = "records every group, request and response, printed by run",
	  .doc = "Changes nothing; records each group, request, response, bind and unbind\n"
	  "with its verdict into its ring buffer, which `iopf-policy run` prints:\n"
	  "for debugging a device or another policy's effect.",
	  .elf_bytes = fault_trace_bpf__elf_bytes, .opts = fault_trace_opts },
};

#define NR_BUNDLED	(sizeof(bundled) / sizeof(bundled[0]))

static const struct bundled *find_bundled(const char *name)
{
	for (size_t i = 0; i < NR_BUNDLED; i++)
		if (!strcmp(bundled[i].name, name))
			return &bundled[i];
	return NULL;
}

/* ---- a policy object ------------------------------------------------------ */

struct policy {
	const char *spec;		/* what the user named */
	const struct bundled *b;	/* NULL: a user's object */
	struct bpf_object *obj;
	const struct btf *btf;
	struct bpf_map *ops;		/* the struct_ops map */
	void *ops_data;
	struct bpf_map *rodata, *bss, *events;
	char name[POLICY_NAME_LEN];
	/* the target the kernel gets: the command line's, or the object's */
	char device[POLICY_NAME_LEN];
	long long pasid, tgid;
	/* range-guard's allow= */
	struct iopf_range ranges[IOPF_RANGE_MAX];
	int nr_ranges;
};

static struct env {
	const char *cmd;
	const char *policy;
	const char *name;
	const char *device;
	long long pasid;
	pid_t pid;
	int interval;
	int count;
	bool json;
	bool cumulative;
	bool quiet;
	/* OPT=VALUE, in order */
	char **opts;
	int nr_opts;
} env = { .interval = 1 };

static int report_exit(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int report_exit(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", tool);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static struct btf *vmlinux_btf;

/* Whether the kernel has the iopfkit fault policies at all */
static bool kernel_has_policies(void)
{
	if (!vmlinux_btf)
		vmlinux_btf = btf__load_vmlinux_btf();
	return vmlinux_btf &&
	       btf__find_by_name_kind(vmlinux_btf, "iommu_fault_ops",
				      BTF_KIND_STRUCT) >= 0;
}

static int check_kernel(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return report_exit(EXIT_NO_KERNEL,
				   "the running kernel has no BTF (/sys/kernel/btf/vmlinux): it needs CONFIG_DEBUG_INFO_BTF");
	if (!kernel_has_policies())
		return report_exit(EXIT_NO_KERNEL,
				   "the running kernel has no BPF fault policies (struct iommu_fault_ops): it needs the iopfkit kernel series (kernel-patches/) with CONFIG_IOMMU_FAULT_POLICY");
	return 0;
}

/* Privileges first: without them, nothing else matters */
static int check_access(void)
{
	if (!iopf_privileged())
		return report_exit(EXIT_PRIVILEGE, "needs root (CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON) to load and list fault policies");
	return check_kernel();
}

/* The member @name of struct type @type_id: its offset and size */
static int struct_member(const struct btf *btf, __u32 type_id, const char *name,
			 __u32 *off, __u32 *size)
{
	const struct btf_type *t = btf__type_by_id(btf, type_id);
	const struct btf_member *m;
	int i;

	if (!t || !btf_is_struct(t))
		return -EINVAL;
	m = btf_members(t);
	for (i = 0; i < btf_vlen(t); i++, m++) {
		if (strcmp(btf__name_by_offset(btf, m->name_off), name))
			continue;
		*off = btf_member_bit_offset(t, i) / 8;
		*size = btf__resolve_size(btf, m->type);
		return 0;
	}
	return -ENOENT;
}

/* The variable @name of data section @sec (".rodata", ".bss") */
static const struct btf_var_secinfo *find_var(const struct btf *btf,
					      const char *sec, const char *name)
{
	const struct btf_var_secinfo *vs;
	const struct btf_type *t;
	int id, i;

	id = btf__find_by_name_kind(btf, sec, BTF_KIND_DATASEC);
	if (id < 0)
		return NULL;
	t = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(t);
	for (i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (!strcmp(btf__name_by_offset(btf, var->name_off), name))
			return vs;
	}
	return NULL;
}

static const char *var_name(const struct btf *btf, const struct btf_var_secinfo *vs)
{
	return btf__name_by_offset(btf, btf__type_by_id(btf, vs->type)->name_off);
}

/* The type of a variable, without const, volatile and typedefs */
static const struct btf_type *var_type(const struct btf *btf,
				       const struct btf_var_secinfo *vs)
{
	int id = btf__resolve_type(btf, btf__type_by_id(btf, vs->type)->type);

	return id < 0 ? NULL : btf__type_by_id(btf, id);
}

static bool type_is_string(const struct btf *btf, const struct btf_type *t)
{
	const struct btf_type *elem;
	int id;

	if (!t || !btf_is_array(t))
		return false;
	id = btf__resolve_type(btf, btf_array(t)->type);
	elem = id < 0 ? NULL : btf__type_by_id(btf, id);
	return elem && btf_is_int(elem) && elem->size == 1;
}

static bool type_is_number(const struct btf_type *t, bool *is_signed)
{
	if (!t)
		return false;
	if (btf_is_int(t)) {
		*is_signed = btf_int_encoding(t) & BTF_INT_SIGNED;
		return t->size <= 8;
	}
	if (btf_is_enum(t) || btf_is_enum64(t)) {
		*is_signed = btf_kflag(t);
		return t->size <= 8;
	}
	return false;
}

static long long read_number(const void *p, __u32 size, bool is_signed)
{
	switch (size) {
	case 1: return is_signed ? *(const __s8 *)p : *(const __u8 *)p;
	case 2: return is_signed ? *(const __s16 *)p : *(const __u16 *)p;
	case 4: return is_signed ? *(const __s32 *)p : *(const __u32 *)p;
	default: return *(const long long *)p;
	}
}

static void write_number(void *p, __u32 size, unsigned long long v)
{
	switch (size) {
	case 1: *(__u8 *)p = v; break;
	case 2: *(__u16 *)p = v; break;
	case 4: *(__u32 *)p = v; break;
	default: *(__u64 *)p = v; break;
	}
}

/* A global data map's bytes: mmapped, before the load and after */
static void *map_data(const struct bpf_map *map)
{
	size_t size;

	return bpf_map__initial_value(map, &size);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/*
 * Open the object of a bundled policy or a file, find its struct_ops map
 * and its global data. Nothing is loaded yet.
 */
static int policy_open(struct policy *p, const char *spec)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	const char *type_name = NULL;
	struct bpf_map *map;
	int nr_ops = 0, err;

	memset(p, 0, sizeof(*p));
	p->spec = spec;
	p->b = find_bundled(spec);
	if (p->b) {
		size_t sz;
		const void *elf = p->b->elf_bytes(&sz);

		opts.object_name = p->b->name;
		p->obj = bpf_object__open_mem(elf, sz, &opts);
	} else {
		if (!strchr(spec, '/') && !ends_with(spec, ".o"))
			return report_exit(EXIT_NOT_FOUND,
					   "no bundled policy '%s' (iopf-policy list), and not a .bpf.o file",
					   spec);
		if (access(spec, R_OK))
			return report_exit(EXIT_NOT_FOUND, "%s: %s", spec,
					   strerror(errno));
		p->obj = bpf_object__open_file(spec, &opts);
	}
	if (!p->obj) {
		err = errno;
		return report_exit(EXIT_REJECTED, "%s: not a BPF object libbpf can open: %s%s",
				   spec, strerror(err),
				   iopf_verbose ? "" : " (-v shows libbpf's log)");
	}
	p->btf = bpf_object__btf(p->obj);
	if (!p->btf)
		return report_exit(EXIT_REJECTED, "%s: the object has no BTF (compile with clang -g)",
				   spec);

	bpf_object__for_each_map(map, p->obj) {
		const char *name = bpf_map__name(map);

		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS) {
			const struct btf_type *t;

			t = btf__type_by_id(p->btf, bpf_map__btf_value_type_id(map));
			type_name = t ? btf__name_by_offset(p->btf, t->name_off) : "?";
			if (!strcmp(type_name, "iommu_fault_ops")) {
				p->ops = map;
				nr_ops++;
			}
		} else if (bpf_map__is_internal(map) && ends_with(name, ".rodata")) {
			p->rodata = map;
		} else if (bpf_map__is_internal(map) && ends_with(name, ".bss")) {
			p->bss = map;
		} else if (!strcmp(name, IOPF_POLICY_EVENTS_MAP) &&
			   bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF) {
			p->events = map;
		}
	}
	if (!nr_ops)
		return report_exit(EXIT_REJECTED,
				   "%s: no struct iommu_fault_ops in the object%s%s",
				   spec, type_name ? ", only " : "",
				   type_name ? type_name : "");
	if (nr_ops > 1)
		return report_exit(EXIT_REJECTED,
				   "%s: %d struct iommu_fault_ops in one object; iopf-policy attaches one (use bpftool for more)",
				   spec, nr_ops);
	/* Other struct_ops maps of the object are not ours to register */
	bpf_object__for_each_map(map, p->obj)
		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS && map != p->ops)
			bpf_map__set_autocreate(map, false);
	p->ops_data = map_data(p->ops);
	return p->ops_data ? 0 : report_exit(EXIT_REJECTED, "%s: no struct_ops data", spec);
}

static int ops_field(struct policy *p, const char *field, void **ptr, __u32 *size)
{
	__u32 off;

	if (struct_member(p->btf, bpf_map__btf_value_type_id(p->ops), field,
			  &off, size))
		return report_exit(EXIT_REJECTED, "%s: struct iommu_fault_ops has no %s: a kernel series this tool does not know",
				   p->spec, field);
	*ptr = p->ops_data + off;
	return 0;
}

/* What the kernel takes as a policy's name (as for a BPF object's name) */
static bool valid_name(const char *name)
{
	size_t n = strlen(name);

	if (!n || n >= POLICY_NAME_LEN)
		return false;
	for (; *name; name++)
		if (!isalnum((unsigned char)*name) && *name != '_' && *name != '.')
			return false;
	return true;
}

/* The policy's name: -n, else the object's .name, else its variable's */
static int policy_set_target(struct policy *p)
{
	void *name, *device, *pasid, *tgid;
	__u32 name_sz, dev_sz, pasid_sz, tgid_sz;

	if (ops_field(p, "name", &name, &name_sz) ||
	    ops_field(p, "device", &device, &dev_sz) ||
	    ops_field(p, "pasid", &pasid, &pasid_sz) ||
	    ops_field(p, "tgid", &tgid, &tgid_sz))
		return EXIT_REJECTED;
	if (env.name)
		snprintf(p->name, sizeof(p->name), "%s", env.name);
	else if (*(char *)name)
		snprintf(p->name, sizeof(p->name), "%.*s", (int)name_sz, (char *)name);
	else
		snprintf(p->name, sizeof(p->name), "%s", bpf_map__name(p->ops));
	if (!valid_name(p->name))
		usage_error("%s: the kernel takes no policy name '%s' (letters, digits, '_' and '.'): give one with -n NAME",
			    p->spec, p->name);
	memset(name, 0, name_sz);
	memcpy(name, p->name, strnlen(p->name, name_sz - 1));

	/* The command line's target replaces the object's */
	if (env.device || env.pasid || env.pid) {
		memset(device, 0, dev_sz);
		if (env.device)
			memcpy(device, env.device, strnlen(env.device, dev_sz - 1));
		write_number(pasid, pasid_sz, env.pasid);
		write_number(tgid, tgid_sz, env.pid);
	}
	snprintf(p->device, sizeof(p->device), "%.*s", (int)dev_sz, (char *)device);
	p->pasid = read_number(pasid, pasid_sz, false);
	p->tgid = read_number(tgid, tgid_sz, true);
	return 0;
}

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s: ", tool, env.cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry `%s %s --help' or `%s help POLICY' for more information.\n",
		tool, env.cmd, tool);
	exit(EXIT_USAGE);
}

static const struct policy_option *bundled_option(const struct policy *p,
						  const char *name)
{
	const struct policy_option *o;

	if (!p->b)
		return NULL;
	for (o = p->b->opts; o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

static bool parse_u64(const char *s, unsigned long long *v, bool suffix)
{
	char *end;

	if (!*s || *s == '-' || isspace((unsigned char)*s))
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	if (suffix && *end) {
		int shift = *end == 'K' || *end == 'k' ? 10 :
			    *end == 'M' ? 20 : *end == 'G' ? 30 : -1;

		if (shift < 0 || end[1] || *v > (~0ULL >> shift))
			return false;
		*v <<= shift;
		end++;
	}
	return !*end;
}

/* allow=[PASID:]START-END or [PASID:]START+LEN */
static int parse_range(struct policy *p, const char *val)
{
	struct iopf_range *r = &p->ranges[p->nr_ranges];
	char buf[128], *colon, *sep;
	unsigned long long pasid = 0, start, x;
	char op;

	if (p->nr_ranges >= IOPF_RANGE_MAX)
		usage_error("allow=: at most %d ranges", IOPF_RANGE_MAX);
	if (strlen(val) >= sizeof(buf))
		goto bad;
	strcpy(buf, val);
	colon = strchr(buf, ':');
	if (colon) {
		*colon = 0;
		if (!parse_u64(buf, &pasid, false) || !pasid || pasid > IOPF_MAX_PASID)
			usage_error("allow=%s: PASID from 1 to %lld", val, IOPF_MAX_PASID);
	}
	sep = strpbrk(colon ? colon + 1 : buf, "-+");
	if (!sep)
		goto bad;
	op = *sep;
	*sep = 0;
	if (!parse_u64(colon ? colon + 1 : buf, &start, false) ||
	    !parse_u64(sep + 1, &x, op == '+'))
		goto bad;
	if (op == '+' ? !x || start + x < start : x <= start)
		usage_error("allow=%s: an empty or wrapping range", val);
	r->start = start;
	r->end = op == '+' ? start + x : x;
	r->pasid = pasid;
	r->used = 1;
	p->nr_ranges++;
	return 0;
bad:
	usage_error("allow=%s: not [PASID:]START-END or [PASID:]START+LEN[K|M|G]", val);
}

static int range_guard_setup(struct policy *p)
{
	struct bpf_map *map = bpf_object__find_map_by_name(p->obj, "ranges");
	int i;

	if (!map)
		return report_exit(EXIT_ERROR, "range-guard: no ranges map");
	for (i = 0; i < p->nr_ranges; i++) {
		__u32 key = i;

		if (bpf_map__update_elem(map, &key, sizeof(key), &p->ranges[i],
					 sizeof(p->ranges[i]), 0))
			return report_exit(EXIT_ERROR, "range-guard: cannot fill the ranges: %s",
					   strerror(errno));
	}
	if (!p->nr_ranges)
		fprintf(stderr, "%s: range-guard without allow=: every request of the target is denied\n",
			tool);
	return 0;
}

/* NAME=VALUE: a bundled option or any .rodata global of the object */
static void policy_set_option(struct policy *p, const char *arg)
{
	const char *eq = strchr(arg, '=');
	const struct policy_option *o;
	const struct btf_var_secinfo *vs;
	const struct btf_type *t;
	char name[64];
	unsigned long long v;
	bool is_signed = false;
	void *data;

	if (!eq || eq == arg || eq - arg >= (long)sizeof(name))
		usage_error("'%s': policy options are NAME=VALUE", arg);
	snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
	o = bundled_option(p, name);
	if (o && o->parse) {
		o->parse(p, eq + 1);
		return;
	}
	vs = find_var(p->btf, ".rodata", name);
	if ((p->b && !o) || !vs || !p->rodata)
		usage_error("%s has no option '%s'", p->spec, name);
	data = map_data(p->rodata) + vs->offset;
	t = var_type(p->btf, vs);
	if (type_is_string(p->btf, t)) {
		if (strlen(eq + 1) >= vs->size)
			usage_error("%s=: at most %u bytes", name, vs->size - 1);
		memset(data, 0, vs->size);
		memcpy(data, eq + 1, strlen(eq + 1));
		return;
	}
	if (!type_is_number(t, &is_signed))
		usage_error("%s: option '%s' is neither a number nor a string", p->spec, name);
	if (o && o->values) {
		for (v = 0; o->values[v]; v++)
			if (!strcmp(o->values[v], eq + 1))
				goto check;
	}
	if (is_signed && eq[1] == '-') {
		long long s;
		char *end;

		errno = 0;
		s = strtoll(eq + 1, &end, 0);
		if (errno || *end || end == eq + 1 ||
		    (vs->size < 8 && s < -(1LL << (vs->size * 8 - 1))))
			usage_error("%s=%s: not a number for a %u-byte integer", name,
				    eq + 1, vs->size);
		v = s;
	} else if (!parse_u64(eq + 1, &v, false) ||
		   (vs->size < 8 && v >> (vs->size * 8 - is_signed))) {
		if (o)
			usage_error("%s=%s: a number from %lld to %lld", name, eq + 1,
				    o->min, o->max);
		usage_error("%s=%s: not a number for a %s%u-byte integer", name,
			    eq + 1, is_signed ? "signed " : "", vs->size);
	}
check:
	if (o && ((long long)v < o->min || (long long)v > o->max)) {
		if (o->values)
			usage_error("%s=%s: %s or %s", name, eq + 1, o->values[o->min],
				    o->values[o->max]);
		usage_error("%s=%s: from %lld to %lld", name, eq + 1, o->min, o->max);
	}
	write_number(data, vs->size, v);
}

/* The command line's options and target, before any check of the kernel */
static int policy_configure(struct policy *p)
{
	for (int i = 0; i < env.nr_opts; i++)
		policy_set_option(p, env.opts[i]);
	return policy_set_target(p);
}

static int policy_load(struct policy *p)
{
	int err;

	err = bpf_object__load(p->obj);
	if (err) {
		if (!kernel_has_policies())
			return check_kernel();
		/* EACCES is the verifier's refusal; privileges were checked */
		if (err == -EPERM)
			return report_exit(EXIT_PRIVILEGE, "%s: not allowed to load BPF programs: needs root (CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON)",
					   p->spec);
		return report_exit(EXIT_REJECTED, "%s: the kernel refused to load the policy: %s%s",
				   p->spec, strerror(-err),
				   iopf_verbose ? "" : " (-v shows the verifier's log)");
	}
	if (p->b && p->b->setup)
		return p->b->setup(p);
	return 0;
}

static void target_str(char *buf, size_t size, const char *device, long long pasid,
		       long long tgid)
{
	int n = snprintf(buf, size, "%s", device && *device ? device : "every device");

	if (pasid)
		snprintf(buf + n, size - n, ", PASID %lld", pasid);
	else if (tgid)
		snprintf(buf + n, size - n, ", process %lld", tgid);
}

static int policy_attach(struct policy *p, struct bpf_link **link)
{
	char target[96];
	int err;

	*link = bpf_map__attach_struct_ops(p->ops);
	if (*link)
		return 0;
	err = errno;
	target_str(target, sizeof(target), p->device, p->pasid, p->tgid);
	switch (err) {
	case EBUSY:
		return report_exit(EXIT_BUSY, "%s: target busy: %s overlaps the target of an attached policy (iopf-policy list)",
				   p->name, target);
	case ESRCH:
		return report_exit(EXIT_NOT_FOUND, "%s: no process %lld", p->name, p->tgid);
	case EPERM:
	case EACCES:
		return report_exit(EXIT_PRIVILEGE, "%s: not allowed to attach a fault policy: needs root",
				   p->name);
	case EPROTO:
		return report_exit(EXIT_REJECTED, "%s: its init() returned a value that is not an errno",
				   p->name);
	default:
		return report_exit(EXIT_ERROR, "%s: cannot attach to %s: %s%s", p->name,
				   target, strerror(err),
				   iopf_verbose ? "" : " (-v shows libbpf's log)");
	}
}

/* ---- the kernel's state ---------------------------------------------------- */

/* A line of debugfs iommu/fault_policies, split in key=value pairs */
#define MAX_FIELDS	32

struct kstate {
	char name[POLICY_NAME_LEN];
	char device[POLICY_NAME_LEN];
	long long pasid, tgid;
	int nr;
	/* offsets into line: a struct kstate copies as it is */
	unsigned short key[MAX_FIELDS];
	unsigned short val[MAX_FIELDS];
	char exit[192];
	char line[1024];
};

static bool debugfs_tried;

static FILE *open_debugfs(void)
{
	FILE *f = fopen(DEBUGFS_POLICIES, "r");

	if (!f && errno == ENOENT && !debugfs_tried) {
		debugfs_tried = true;
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
		f = fopen(DEBUGFS_POLICIES, "r");
	}
	return f;
}

/*
 * The kernel's fault policies, a line each: from the BPF iterator
 * "iommu_fault_policy" (bpf/iopf-policy.bpf.c), which needs neither
 * debugfs nor a kernel without lockdown, else from debugfs. Loaded once.
 */
static struct iopf_policy_bpf *state_skel;
static struct bpf_link *state_link;
static bool state_tried;

static FILE *open_policy_state(void)
{
	int fd;

	if (!state_tried) {
		state_tried = true;
		state_skel = iopf_policy_bpf__open_and_load();
		if (state_skel) {
			state_link = bpf_program__attach_iter(state_skel->progs.policy_lines, NULL);
			if (!state_link) {
				iopf_policy_bpf__destroy(state_skel);
				state_skel = NULL;
			}
		}
	}
	if (!state_link)
		return open_debugfs();
	fd = bpf_iter_create(bpf_link__fd(state_link));
	return fd < 0 ? NULL : fdopen(fd, "r");
}

static void close_policy_state(void)
{
	bpf_link__destroy(state_link);
	iopf_policy_bpf__destroy(state_skel);
	state_link = NULL;
	state_skel = NULL;
}

static bool parse_kstate(char *line, struct kstate *k)
{
	char *s, *tok, *save, *exit;

	memset(k, 0, sizeof(*k));
	line[strcspn(line, "\n")] = 0;
	snprintf(k->line, sizeof(k->line), "%s", line);
	s = strstr(k->line, " device=");
	if (!s)
		return false;
	*s = 0;
	snprintf(k->name, sizeof(k->name), "%.*s", (int)sizeof(k->name) - 1, k->line);
	/* exit="REASON: MSG" comes last, and MSG may hold anything */
	exit = strstr(s + 1, " exit=\"");
	if (exit) {
		char *end = strrchr(exit + 7, '"');

		*exit = 0;
		snprintf(k->exit, sizeof(k->exit), "%.*s",
			 (int)(end ? end - (exit + 7) : (long)strlen(exit + 7)), exit + 7);
	}
	for (tok = strtok_r(s + 1, " ", &save); tok && k->nr < MAX_FIELDS;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = 0;
		k->key[k->nr] = tok - k->line;
		k->val[k->nr++] = eq + 1 - k->line;
		if (!strcmp(tok, "device"))
			snprintf(k->device, sizeof(k->device), "%s",
				 strcmp(eq + 1, "*") ? eq + 1 : "");
		else if (!strcmp(tok, "pasid"))
			k->pasid = atoll(eq + 1);
		else if (!strcmp(tok, "tgid"))
			k->tgid = atoll(eq + 1);
	}
	return true;
}

static const char *kstate_get(const struct kstate *k, const char *key)
{
	for (int i = 0; i < k->nr; i++)
		if (!strcmp(k->line + k->key[i], key))
			return k->line + k->val[i];
	return NULL;
}

/* The kernel's word for the state: attaching, attached, detached, closed */
static const char *kstate_state(const struct kstate *k)
{
	const char *v = kstate_get(k, "state");

	return v ? v : k->exit[0] ? "detached" : "attached";
}

static long long kstate_num(const struct kstate *k, const char *key)
{
	const char *v = kstate_get(k, key);

	return v ? atoll(v) : 0;
}

/* The debugfs line of the policy with this name and target; -ENOENT */
static int read_kstate(const char *name, const char *device, long long pasid,
		       long long tgid, struct kstate *out)
{
	char line[1024];
	int ret = -ENOENT;
	FILE *f = open_policy_state();

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct kstate k;

		if (!parse_kstate(line, &k) || strcmp(k.name, name) ||
		    strcmp(k.device, device) || k.pasid != pasid || k.tgid != tgid)
			continue;
		*out = k;
		ret = 0;
		/* a dead policy and its successor may share name and target */
		if (!k.exit[0])
			break;
	}
	fclose(f);
	return ret;
}

/* An attached iommu_fault_ops struct_ops map, read through the BPF syscall */
struct kpolicy {
	__u32 map_id, link_id;
	char name[POLICY_NAME_LEN];
	char device[POLICY_NAME_LEN];
	long long pasid, tgid;
	char pin[PATH_MAX];
	struct kstate k;
	bool has_k;
};

struct ops_layout {
	__s32 value_type;
	__u32 data, name, device, pasid, tgid;
	__u32 name_sz, dev_sz, pasid_sz, tgid_sz;
};

static int ops_layout(struct ops_layout *l)
{
	__u32 data_sz;
	__s32 ops;

	if (!kernel_has_policies())
		return -ENOENT;
	l->value_type = btf__find_by_name_kind(vmlinux_btf, "bpf_struct_ops_iommu_fault_ops",
					       BTF_KIND_STRUCT);
	ops = btf__find_by_name_kind(vmlinux_btf, "iommu_fault_ops", BTF_KIND_STRUCT);
	if (l->value_type < 0 || ops < 0 ||
	    struct_member(vmlinux_btf, l->value_type, "data", &l->data, &data_sz) ||
	    struct_member(vmlinux_btf, ops, "name", &l->name, &l->name_sz) ||
	    struct_member(vmlinux_btf, ops, "device", &l->device, &l->dev_sz) ||
	    struct_member(vmlinux_btf, ops, "pasid", &l->pasid, &l->pasid_sz) ||
	    struct_member(vmlinux_btf, ops, "tgid", &l->tgid, &l->tgid_sz))
		return -ENOENT;
	return 0;
}

static __u32 link_of_map(__u32 map_id)
{
	__u32 id = 0;

	while (!bpf_link_get_next_id(id, &id)) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_link_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (!bpf_link_get_info_by_fd(fd, &info, &len) &&
		    info.type == BPF_LINK_TYPE_STRUCT_OPS &&
		    info.struct_ops.map_id == map_id) {
			close(fd);
			return id;
		}
		close(fd);
	}
	return 0;
}

/* The link id pinned at PIN_ROOT/NAME/link, 0 if none */
static __u32 pinned_link(const char *name, char *path, size_t size)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd;

	snprintf(path, size, "%s/%s/link", PIN_ROOT, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_link_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

/* Every attached fault policy; returns how many, -errno */
static int list_kernel(struct kpolicy **out)
{
	struct ops_layout l;
	struct kpolicy *v = NULL;
	int nr = 0;
	__u32 id = 0;

	if (ops_layout(&l))
		return -ENOENT;
	while (!bpf_map_get_next_id(id, &id)) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info), key = 0;
		struct kpolicy *kp;
		char *value;
		int fd = bpf_map_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (bpf_map_get_info_by_fd(fd, &info, &len) ||
		    info.type != BPF_MAP_TYPE_STRUCT_OPS ||
		    info.btf_vmlinux_value_type_id != (__u32)l.value_type) {
			close(fd);
			continue;
		}
		value = calloc(1, info.value_size);
		if (!value || bpf_map_lookup_elem(fd, &key, value)) {
			free(value);
			close(fd);
			continue;
		}
		close(fd);
		kp = realloc(v, (nr + 1) * sizeof(*v));
		if (!kp) {
			free(value);
			break;
		}
		v = kp;
		kp = &v[nr];
		memset(kp, 0, sizeof(*kp));
		kp->map_id = id;
		snprintf(kp->name, sizeof(kp->name), "%.*s", (int)l.name_sz,
			 value + l.data + l.name);
		snprintf(kp->device, sizeof(kp->device), "%.*s", (int)l.dev_sz,
			 value + l.data + l.device);
		kp->pasid = read_number(value + l.data + l.pasid, l.pasid_sz, false);
		kp->tgid = read_number(value + l.data + l.tgid, l.tgid_sz, true);
		free(value);
		kp->link_id = link_of_map(id);
		/* a map loaded but not attached (a loader between load and attach) */
		if (!kp->link_id)
			continue;
		kp->has_k = !read_kstate(kp->name, kp->device, kp->pasid, kp->tgid, &kp->k);
		{
			char path[PATH_MAX];

			if (pinned_link(kp->name, path, sizeof(path)) == kp->link_id)
				snprintf(kp->pin, sizeof(kp->pin), "%s", path);
		}
		nr++;
	}
	*out = v;
	return nr;
}

/* ---- list ---------------------------------------------------------------- */

static const char *const kernel_counters[] = {
	"groups", "requests", "responses", "group_invalid", "group_failure",
	"request_invalid", "request_failure", "prefaulted", "errors",
	"binds", "unbinds",
};

#define NR_KERNEL_COUNTERS	(sizeof(kernel_counters) / sizeof(kernel_counters[0]))

static int cmd_list(void)
{
	struct kpolicy *v = NULL;
	int nr, i;

	nr = list_kernel(&v);
	if (nr == -ENOENT)
		return check_kernel();

	if (env.json) {
		printf("{\"bundled\":[");
		for (i = 0; i < (int)NR_BUNDLED; i++) {
			printf("%s{\"name\":\"%s\",\"summary\":", i ? "," : "", bundled[i].name);
			iopf_json_str(stdout, bundled[i].summary);
			printf("}");
		}
		printf("],\"attached\":[");
		for (i = 0; i < nr; i++) {
			struct kpolicy *kp = &v[i];

			printf("%s{\"name\":", i ? "," : "");
			iopf_json_str(stdout, kp->name);
			printf(",\"device\":");
			iopf_json_str(stdout, kp->device);
			printf(",\"pasid\":%lld,\"tgid\":%lld,\"map_id\":%u,\"link_id\":%u,\"pin\":",
			       kp->pasid, kp->tgid, kp->map_id, kp->link_id);
			if (kp->pin[0])
				iopf_json_str(stdout, kp->pin);
			else
				printf("null");
			if (kp->has_k) {
				printf(",\"state\":\"%s\",\"covers\":%lld",
				       kstate_state(&kp->k),
				       kstate_num(&kp->k, "covers"));
				for (size_t c = 0; c < NR_KERNEL_COUNTERS; c++)
					printf(",\"%s\":%lld", kernel_counters[c],
					       kstate_num(&kp->k, kernel_counters[c]));
				printf(",\"exit\":");
				if (kp->k.exit[0])
					iopf_json_str(stdout, kp->k.exit);
				else
					printf("null");
			}
			printf("}");
		}
		printf("]}\n");
		free(v);
		return 0;
	}

	printf("Bundled policies (iopf-policy help POLICY):\n");
	for (i = 0; i < (int)NR_BUNDLED; i++)
		printf("  %-12s %s\n", bundled[i].name, bundled[i].summary);
	printf("\nAttached policies:\n");
	if (!nr) {
		printf("  none\n");
		return 0;
	}
	printf("  %-16s %-24s %-8s %9s %9s %9s %8s %8s %10s %6s  %s\n", "NAME", "TARGET",
	       "STATE", "GROUPS", "REQUESTS", "RESPONSES", "INVALID", "FAILURE",
	       "PREFAULTED", "ERRORS", "HELD BY");
	for (i = 0; i < nr; i++) {
		struct kpolicy *kp = &v[i];
		char target[96], name[POLICY_NAME_LEN], held[PATH_MAX + 16];

		iopf_printable(name, kp->name, sizeof(name));
		target_str(target, sizeof(target), kp->device, kp->pasid, kp->tgid);
		if (kp->pin[0])
			snprintf(held, sizeof(held), "pin %s", kp->pin);
		else
			snprintf(held, sizeof(held), "link %u", kp->link_id);
		if (!kp->has_k) {
			printf("  %-16s %-24s %-8s %9s %9s %9s %8s %8s %10s %6s  %s\n", name,
			       target, "?", "-", "-", "-", "-", "-", "-", "-", held);
			continue;
		}
		printf("  %-16s %-24s %-8s %9lld %9lld %9lld %8lld %8lld %10lld %6lld  %s\n",
		       name, target, kstate_state(&kp->k),
		       kstate_num(&kp->k, "groups"), kstate_num(&kp->k, "requests"),
		       kstate_num(&kp->k, "responses"),
		       kstate_num(&kp->k, "group_invalid") + kstate_num(&kp->k, "request_invalid"),
		       kstate_num(&kp->k, "group_failure") + kstate_num(&kp->k, "request_failure"),
		       kstate_num(&kp->k, "prefaulted"), kstate_num(&kp->k, "errors"), held);
		if (kp->k.exit[0])
			printf("  %-16s exit: %s\n", "", kp->k.exit);
	}
	if (!v[0].has_k && !state_link && access(DEBUGFS_POLICIES, R_OK))
		printf("  (counters: neither the iommu_fault_policy iterator nor %s is there)\n",
		       DEBUGFS_POLICIES);
	free(v);
	return 0;
}

/* ---- help POLICY --------------------------------------------------------- */

static void print_default(const struct policy *p, const struct policy_option *o,
			  const struct btf_var_secinfo *vs)
{
	const struct btf_type *t = var_type(p->btf, vs);
	const void *data = map_data(p->rodata) + vs->offset;
	bool is_signed;

	if (type_is_string(p->btf, t)) {
		printf("\"%.*s\"", (int)vs->size, (const char *)data);
	} else if (type_is_number(t, &is_signed)) {
		long long v = read_number(data, vs->size, is_signed);

		if (o && o->values && v >= o->min && v <= o->max)
			printf("%s", o->values[v]);
		else
			printf("%lld", v);
	}
}

static int cmd_help(struct policy *p)
{
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	int id, i;

	if (p->b) {
		printf("%s: %s\n\n%s\n\nOptions (NAME=VALUE):\n", p->b->name,
		       p->b->summary, p->b->doc);
		for (const struct policy_option *o = p->b->opts; o->name; o++)
			printf("  %-16s %s\n", o->name, o->help);
		if (!p->b->opts[0].name)
			printf("  none\n");
		printf("\nCounters:");
	} else {
		printf("%s: a fault policy object (struct_ops %s)\n\nOptions (NAME=VALUE, its .rodata):\n",
		       p->spec, bpf_map__name(p->ops));
		id = btf__find_by_name_kind(p->btf, ".rodata", BTF_KIND_DATASEC);
		sec = id < 0 ? NULL : btf__type_by_id(p->btf, id);
		vs = sec ? btf_var_secinfos(sec) : NULL;
		for (i = 0; sec && i < btf_vlen(sec); i++, vs++) {
			printf("  %-16s default ", var_name(p->btf, vs));
			print_default(p, NULL, vs);
			printf("\n");
		}
		if (!sec || !btf_vlen(sec))
			printf("  none\n");
		printf("\nCounters (its .bss):");
	}
	id = btf__find_by_name_kind(p->btf, ".bss", BTF_KIND_DATASEC);
	sec = id < 0 ? NULL : btf__type_by_id(p->btf, id);
	vs = sec ? btf_var_secinfos(sec) : NULL;
	for (i = 0; sec && i < btf_vlen(sec); i++, vs++) {
		bool s;

		if (type_is_number(var_type(p->btf, vs), &s))
			printf(" %s", var_name(p->btf, vs));
	}
	printf("\nEvents: %s\n", p->events ? "yes, printed by `iopf-policy run`" : "none");
	return 0;
}

/* ---- run and attach ------------------------------------------------------ */

static __s64 wall_offset_ns;

static __u64 clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static const char *const hook_names[] = {
	"group", "request", "response", "bind", "unbind",
};

static const char *const code_names[] = { "success", "invalid", "failure" };

static void perm_str(char *buf, __u32 perm)
{
	int n = 0;

	if (perm & IOPF_PERM_READ)
		buf[n++] = 'r';
	if (perm & IOPF_PERM_WRITE)
		buf[n++] = 'w';
	if (perm & IOPF_PERM_EXEC)
		buf[n++] = 'x';
	if (perm & IOPF_PERM_PRIV)
		buf[n++] = 'p';
	if (!n)
		buf[n++] = '-';
	buf[n] = 0;
}

static const char *policy_name_for_events;

static int handle_event(void *ctx, void *data, size_t len)
{
	const struct iopf_policy_event *e = data;
	const char *hook = e->hook < IOPF_POLICY_NR_HOOKS ? hook_names[e->hook] : "?";
	const char *verdict = e->verdict >= 0 && e->verdict <= 2 ?
			      verdict_names[e->verdict] : "bad";
	char perm[8], dev[IOPF_DEV_LEN], reason[IOPF_POLICY_REASON_LEN];

	if (len < sizeof(*e))
		return 0;
	perm_str(perm, e->perm);
	if (env.json) {
		printf("{\"time\":%.6f,\"policy\":", (e->ts_ns + wall_offset_ns) / 1e9);
		iopf_json_str(stdout, policy_name_for_events);
		printf(",\"event\":\"%s\",\"device\":", hook);
		iopf_json_str(stdout, e->device);
		printf(",\"pasid\":%u", e->pasid);
		switch (e->hook) {
		case IOPF_POLICY_HOOK_GROUP:
			printf(",\"grpid\":%u,\"addr\":%llu,\"perm\":\"%s\",\"requests\":%u,\"verdict\":\"%s\"",
			       e->grpid, e->addr, perm, e->nr_requests, verdict);
			break;
		case IOPF_POLICY_HOOK_REQUEST:
			printf(",\"grpid\":%u,\"addr\":%llu,\"perm\":\"%s\",\"verdict\":\"%s\"",
			       e->grpid, e->addr, perm, verdict);
			break;
		case IOPF_POLICY_HOOK_RESPONSE:
			printf(",\"grpid\":%u,\"code\":\"%s\",\"latency_ns\":%llu", e->grpid,
			       e->code < 3 ? code_names[e->code] : "?", e->latency_ns);
			break;
		default:
			printf(",\"pid\":%d", e->tgid);
		}
		printf(",\"reason\":");
		iopf_json_str(stdout, e->reason);
		printf("}\n");
		return 0;
	}

	char when[32], detail[96];
	time_t secs = (e->ts_ns + wall_offset_ns) / 1000000000ULL;
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	iopf_printable(dev, e->device, sizeof(dev));
	/* an empty reason is no reason, not an unprintable one */
	if (e->reason[0])
		iopf_printable(reason, e->reason, sizeof(reason));
	else
		reason[0] = 0;
	switch (e->hook) {
	case IOPF_POLICY_HOOK_GROUP:
		snprintf(detail, sizeof(detail), "0x%016llx %-4s %-8s %u requests", e->addr,
			 perm, verdict, e->nr_requests);
		break;
	case IOPF_POLICY_HOOK_REQUEST:
		snprintf(detail, sizeof(detail), "0x%016llx %-4s %-8s", e->addr, perm, verdict);
		break;
	case IOPF_POLICY_HOOK_RESPONSE:
		snprintf(detail, sizeof(detail), "%-18s %-4s %-8s %.1f us", "", "",
			 e->code < 3 ? code_names[e->code] : "?", e->latency_ns / 1e3);
		break;
	default:
		snprintf(detail, sizeof(detail), "pid %d", e->tgid);
	}
	printf("%s.%06llu %-12s %7u %6u %-8s %s%s%s\n", when,
	       (e->ts_ns + wall_offset_ns) % 1000000000ULL / 1000, dev, e->pasid,
	       e->grpid, hook, detail, reason[0] ? "  " : "", reason);
	return 0;
}

/* The policy's own counters: the integer globals of its .bss */
struct counters {
	int nr;
	const char *name[64];
	long long val[64];
	long long kval[NR_KERNEL_COUNTERS];
	bool has_k;
};

static void read_counters(struct policy *p, struct counters *c)
{
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	const void *bss = p->bss ? map_data(p->bss) : NULL;
	struct kstate k;
	int id, i;

	c->nr = 0;
	id = btf__find_by_name_kind(p->btf, ".bss", BTF_KIND_DATASEC);
	sec = id < 0 || !bss ? NULL : btf__type_by_id(p->btf, id);
	vs = sec ? btf_var_secinfos(sec) : NULL;
	for (i = 0; sec && i < btf_vlen(sec) && c->nr < 64; i++, vs++) {
		bool is_signed;

		if (!type_is_number(var_type(p->btf, vs), &is_signed))
			continue;
		c->name[c->nr] = var_name(p->btf, vs);
		c->val[c->nr++] = read_number(bss + vs->offset, vs->size, is_signed);
	}
	c->has_k = !read_kstate(p->name, p->device, p->pasid, p->tgid, &k);
	for (size_t j = 0; j < NR_KERNEL_COUNTERS; j++)
		c->kval[j] = c->has_k ? kstate_num(&k, kernel_counters[j]) : 0;
}

static void print_counters(struct policy *p, const struct counters *now,
			   const struct counters *prev, bool final)
{
	bool delta = !env.cumulative && !final;
	char when[16];
	int i;

	if (env.json) {
		printf("{\"time\":%.6f,\"policy\":", iopf_epoch());
		iopf_json_str(stdout, p->name);
		printf(",\"final\":%s,\"kernel\":{", final ? "true" : "false");
		for (size_t j = 0; now->has_k && j < NR_KERNEL_COUNTERS; j++)
			printf("%s\"%s\":%lld", j ? "," : "", kernel_counters[j], now->kval[j]);
		printf("},\"counters\":{");
		for (i = 0; i < now->nr; i++)
			printf("%s\"%s\":%lld", i ? "," : "", now->name[i], now->val[i]);
		printf("}}\n");
		fflush(stdout);
		return;
	}
	iopf_strftime(when, sizeof(when));
	printf("%s %s%s", when, final ? "total" : delta ? "interval" : "total",
	       now->has_k ? ":" : ": (no debugfs)");
	if (now->has_k) {
		printf(" groups %lld requests %lld invalid %lld failure %lld",
		       now->kval[0] - (delta ? prev->kval[0] : 0),
		       now->kval[1] - (delta ? prev->kval[1] : 0),
		       now->kval[3] + now->kval[5] - (delta ? prev->kval[3] + prev->kval[5] : 0),
		       now->kval[4] + now->kval[6] - (delta ? prev->kval[4] + prev->kval[6] : 0));
		if (now->kval[7])
			printf(" prefaulted %lld", now->kval[7] - (delta ? prev->kval[7] : 0));
	}
	if (now->nr)
		printf(" |");
	for (i = 0; i < now->nr; i++)
		printf(" %s %lld", now->name[i],
		       now->val[i] - (delta && i < prev->nr ? prev->val[i] : 0));
	printf("\n");
	fflush(stdout);
}

/* Whether the kernel detached the policy, and why, into @why */
static bool policy_exited(struct policy *p, char *why, size_t size, bool *unreg)
{
	const struct btf_var_secinfo *vs = find_var(p->btf, ".bss", IOPF_POLICY_EXIT_VAR);
	struct kstate k;

	if (vs && p->bss && vs->size >= sizeof(struct iopf_policy_exit)) {
		const volatile struct iopf_policy_exit *e =
			map_data(p->bss) + vs->offset;

		if (!e->kind)
			return false;
		__sync_synchronize();
		snprintf(why, size, "%s%s%s", e->reason, e->msg[0] ? ": " : "",
			 (const char *)e->msg);
		*unreg = e->kind == IOPF_POLICY_EXIT_UNREG;
		return true;
	}
	/* A user's object without the exit record: the kernel's word */
	if (read_kstate(p->name, p->device, p->pasid, p->tgid, &k) ||
	    !k.exit[0])
		return false;
	snprintf(why, size, "%s", k.exit);
	*unreg = !strncmp(k.exit, "unregistered", 12);
	return true;
}

static void print_exit(struct policy *p, const char *why)
{
	if (env.json) {
		printf("{\"time\":%.6f,\"policy\":", iopf_epoch());
		iopf_json_str(stdout, p->name);
		printf(",\"detached\":");
		iopf_json_str(stdout, why);
		printf("}\n");
	} else {
		printf("%s detached: %s\n", p->name, why);
	}
	fflush(stdout);
}

/*
 * The kernel detached a policy that fails closed (range-guard): its
 * target refuses every page request until the link goes
 */
static bool policy_closed(struct policy *p)
{
	struct kstate k;

	return !read_kstate(p->name, p->device, p->pasid, p->tgid, &k) &&
	       !strcmp(kstate_state(&k), "closed");
}

static void print_closed(struct policy *p, const char *why)
{
	if (env.json) {
		printf("{\"time\":%.6f,\"policy\":", iopf_epoch());
		iopf_json_str(stdout, p->name);
		printf(",\"closed\":");
		iopf_json_str(stdout, why);
		printf("}\n");
	} else {
		printf("%s failed closed: %s; its target refuses every page request until iopf-policy ends\n",
		       p->name, why);
	}
	fflush(stdout);
}

static int cmd_run(struct policy *p)
{
	struct counters c[2] = {};
	struct ring_buffer *rb = NULL;
	struct bpf_link *link;
	char why[IOPF_POLICY_EXIT_MSG_LEN + 64], target[96];
	bool unreg = false, exited = false, closed = false;
	__u64 next, interval_ns = env.interval * 1000000000ULL;
	int err, cur = 0, intervals = 0;

	err = policy_attach(p, &link);
	if (err)
		return err;
	if (p->events && !env.quiet) {
		policy_name_for_events = p->name;
		rb = ring_buffer__new(bpf_map__fd(p->events), handle_event, NULL, NULL);
		if (!rb) {
			bpf_link__destroy(link);
			return report_exit(EXIT_ERROR, "cannot read the policy's events: %s",
					   strerror(errno));
		}
	}
	wall_offset_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	target_str(target, sizeof(target), p->device, p->pasid, p->tgid);
	fprintf(env.json ? stderr : stdout,
		"%s attached to %s. Hit Ctrl-C to detach.\n", p->name, target);
	if (rb && !env.json)
		printf("%-15s %-12s %7s %6s %-8s %-18s %-4s %-8s %s\n", "TIME", "DEVICE",
		       "PASID", "GRPID", "EVENT", "ADDR", "PERM", "VERDICT", "DETAIL");
	fflush(stdout);
	read_counters(p, &c[cur]);
	next = clock_ns(CLOCK_MONOTONIC) + interval_ns;
	while (!iopf_exiting) {
		__u64 now;

		if (rb) {
			err = ring_buffer__poll(rb, 100);
			if (err < 0 && err != -EINTR) {
				report_exit(EXIT_ERROR, "reading events: %s", strerror(-err));
				break;
			}
		} else {
			poll(NULL, 0, 100);
		}
		exited = policy_exited(p, why, sizeof(why), &unreg);
		/* A closed target stays closed while we hold the link */
		if (exited && !unreg && (closed || policy_closed(p))) {
			if (!closed)
				print_closed(p, why);
			closed = true;
			exited = false;
		}
		if (exited)
			break;
		now = clock_ns(CLOCK_MONOTONIC);
		if (now < next)
			continue;
		next += interval_ns;
		read_counters(p, &c[!cur]);
		print_counters(p, &c[!cur], &c[cur], false);
		cur = !cur;
		if (env.count && ++intervals >= env.count)
			break;
	}
	/* the kernel's counters go with the link: read them first */
	if (rb)
		ring_buffer__consume(rb);
	read_counters(p, &c[!cur]);
	if (!exited) {
		/* our link goes: the kernel calls the policy's exit */
		bpf_link__destroy(link);
		link = NULL;
		exited = policy_exited(p, why, sizeof(why), &unreg);
		if (!exited) {
			snprintf(why, sizeof(why), "unregistered");
			unreg = true;
		}
	}
	if (rb) {
		ring_buffer__consume(rb);
		ring_buffer__free(rb);
	}
	/*
	 * After -c in totals mode the last interval said it all; JSON
	 * readers still wait for their "final" object.
	 */
	if (env.json || !(env.count && intervals >= env.count && env.cumulative))
		print_counters(p, &c[!cur], &c[cur], true);
	print_exit(p, why);
	bpf_link__destroy(link);
	return unreg ? 0 : EXIT_DETACHED;
}

static int ensure_bpffs(void)
{
	struct statfs st;

	if (!statfs("/sys/fs/bpf", &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL))
		return report_exit(EXIT_ERROR, "no BPF filesystem at /sys/fs/bpf and cannot mount one: %s",
				   strerror(errno));
	return 0;
}

static int cmd_attach(struct policy *p)
{
	char dir[PATH_MAX], path[PATH_MAX + 8], target[96];
	struct bpf_link *link;
	int err;

	err = ensure_bpffs();
	if (err)
		return err;
	if (strchr(p->name, '/') || !strcmp(p->name, ".") || !strcmp(p->name, ".."))
		return report_exit(EXIT_USAGE, "'%s': a pinned policy's name cannot contain '/' (-n NAME)",
				   p->name);
	mkdir(PIN_ROOT, 0700);
	snprintf(dir, sizeof(dir), "%s/%s", PIN_ROOT, p->name);
	if (mkdir(dir, 0700))
		return errno == EEXIST ?
		       report_exit(EXIT_BUSY, "a policy named %s is pinned already (iopf-policy detach %s, or -n NAME)",
				   p->name, p->name) :
		       report_exit(EXIT_ERROR, "%s: %s", dir, strerror(errno));
	err = policy_attach(p, &link);
	if (err) {
		rmdir(dir);
		return err;
	}
	snprintf(path, sizeof(path), "%s/link", dir);
	if (bpf_link__pin(link, path)) {
		err = errno;
		bpf_link__destroy(link);
		rmdir(dir);
		return report_exit(EXIT_ERROR, "cannot pin the link at %s: %s", path,
				   strerror(err));
	}
	/* its counters and exit record, for whoever looks later */
	if (p->bss) {
		snprintf(path, sizeof(path), "%s/bss", dir);
		bpf_map__pin(p->bss, path);
	}
	target_str(target, sizeof(target), p->device, p->pasid, p->tgid);
	printf("%s attached to %s, pinned at %s (iopf-policy detach %s)\n", p->name,
	       target, dir, p->name);
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	return 0;
}

static void unpin(const char *name)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/%s", PIN_ROOT, name);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

static int cmd_detach(const char *arg)
{
	struct kpolicy *v = NULL;
	char path[PATH_MAX], name[POLICY_NAME_LEN];
	__u32 link_id;
	int nr, i, found = 0, fd, err;

	/* range-guard is range_guard to the kernel, which takes no '-' */
	snprintf(name, sizeof(name), "%s", arg);
	for (i = 0; name[i]; i++)
		if (name[i] == '-')
			name[i] = '_';
	link_id = pinned_link(name, path, sizeof(path));

	nr = list_kernel(&v);
	if (nr == -ENOENT)
		return check_kernel();
	if (!link_id) {
		for (i = 0; i < nr; i++)
			if (!strcmp(v[i].name, name)) {
				link_id = v[i].link_id;
				found++;
			}
		free(v);
		if (found > 1)
			return report_exit(EXIT_ERROR, "%d attached policies are named %s; detach by link with bpftool (iopf-policy list shows their links)",
					   found, name);
	} else {
		free(v);
	}
	if (!link_id) {
		unpin(name);
		return report_exit(EXIT_NOT_FOUND, "no attached policy named %s (iopf-policy list)",
				   name);
	}
	fd = bpf_link_get_fd_by_id(link_id);
	if (fd < 0)
		return report_exit(errno == EPERM ? EXIT_PRIVILEGE : EXIT_ERROR,
				   "%s: cannot open link %u: %s", name, link_id, strerror(errno));
	err = bpf_link_detach(fd);
	close(fd);
	if (err)
		return report_exit(EXIT_ERROR, "%s: cannot detach link %u: %s", name, link_id,
				   strerror(errno));
	unpin(name);
	printf("%s detached\n", name);
	return 0;
}

/* ---- command line ----------------------------------------------------------- */

const char *argp_program_version = "iopf-policy (iopfkit)";
const char *argp_program_bug_address = "the iopfkit developers";

static const char top_doc[] =
"Load, attach, list and detach BPF I/O page fault policies.\n"
"\n"
"USAGE: iopf-policy COMMAND [ARGS]\n"
"\n"
"COMMANDS:\n"
"    list                   the bundled policies, and the attached ones with\n"
"                           their targets and the kernel's counters\n"
"    run POLICY [TARGET] [OPT=VALUE...]\n"
"                           attach, print counters each interval and the\n"
"                           policy's events, until Ctrl-C or until the\n"
"                           kernel detaches it; then the exit reason\n"
"    attach POLICY [TARGET] [OPT=VALUE...]\n"
"                           attach with a link pinned in /sys/fs/bpf/iopfkit\n"
"    detach NAME            detach an attached policy, pinned or not\n"
"    help POLICY            what a policy does, its options and counters\n"
"\n"
"POLICY is a bundled policy (passthrough, ratelimit, range-guard, prefault,\n"
"fault-trace) or the path of a .bpf.o with one struct iommu_fault_ops.\n"
"TARGET is -d DEV, and --pasid N or -p PID; without one, every device.\n"
"\n"
"EXAMPLES:\n"
"    iopf-policy list\n"
"    iopf-policy run ratelimit -d swsva0 rate=500 burst=16\n"
"    iopf-policy run range-guard -p 1234 allow=0x7f0000000000+64M\n"
"    iopf-policy attach prefault -d swsva0 window=32\n"
"    iopf-policy run ./my_policy.bpf.o -d swsva0 threshold=8\n"
"    iopf-policy detach prefault\n"
"\n"
"EXIT STATUS: 0 ok; 1 error; 2 usage; 3 kernel without fault policies;\n"
"4 no privileges; 5 target busy; 6 not found; 7 refused by the verifier;\n"
"8 run: the kernel detached the policy.";

enum { OPT_PASID = 0x1000, OPT_CUMULATIVE, OPT_NO_EVENTS };

static const struct argp_option target_opts[] = {
	{ "device", 'd', "DEV", 0, "This device (its dev_name, e.g. swsva0); default every device", 0 },
	{ "pasid", OPT_PASID, "N", 0, "This PASID of the device(s)", 0 },
	{ "pid", 'p', "PID", 0, "The address space of this process, from its bind on", 0 },
	{ "name", 'n', "NAME", 0, "The policy's name (debugfs, events, pin); default the object's", 0 },
	{},
};

static const struct argp_option run_opts[] = {
	{ "interval", 'i', "SECS", 0, "Print counters every SECS seconds (default 1)", 1 },
	{ "count", 'c', "N", 0, "Detach after N intervals", 1 },
	{ "cumulative", 'C', NULL, 0, "Totals since the attach, not per interval", 1 },
	{ "quiet", 'q', NULL, 0, "Counters only, not the policy's events", 1 },
	{ "json", 'j', NULL, 0, "One JSON object per line", 1 },
	{},
};

static const struct argp_option list_opts[] = {
	{ "json", 'j', NULL, 0, "One JSON object", 0 },
	{},
};

/*
 * The kernel matches a device target by name, also on devices that come
 * later; a name that matches nothing now is more likely a typo
 */
static void check_device(const char *dev)
{
	char path[PATH_MAX];
	DIR *d = opendir("/sys/bus");
	struct dirent *de;
	bool found = false;

	if (!d)
		return;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/%s/devices/%s", de->d_name, dev);
		found = !access(path, F_OK);
	}
	closedir(d);
	if (!found) {
		fprintf(stderr, "%s: no device %s\n", tool, dev);
		exit(EXIT_NOT_FOUND);
	}
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'd':
		if (!*arg || strlen(arg) >= POLICY_NAME_LEN)
			argp_error(state, "invalid device name: '%s'", arg);
		env.device = arg;
		break;
	case OPT_PASID:
		env.pasid = iopf_arg_num(state, "--pasid", arg, 1, IOPF_MAX_PASID);
		break;
	case 'p':
		env.pid = iopf_arg_num(state, "-p", arg, 1, INT_MAX);
		break;
	case 'n':
		if (!valid_name(arg))
			argp_error(state, "invalid name: '%s' (1 to %d letters, digits, '_' or '.')",
				   arg, POLICY_NAME_LEN - 1);
		env.name = arg;
		break;
	case 'i':
		env.interval = iopf_arg_num(state, "interval", arg, 1, 86400);
		break;
	case 'c':
		env.count = iopf_arg_num(state, "count", arg, 1, INT_MAX);
		break;
	case 'C':
		env.cumulative = true;
		break;
	case 'q':
		env.quiet = true;
		break;
	case 'j':
		env.json = true;
		break;
	case ARGP_KEY_ARG:
		if (!env.policy) {
			env.policy = arg;
		} else if (strchr(arg, '=') && strcmp(env.cmd, "detach") &&
			   strcmp(env.cmd, "help")) {
			env.opts[env.nr_opts++] = arg;
		} else {
			argp_error(state, "unexpected argument '%s'", arg);
		}
		break;
	case ARGP_KEY_END:
		if (strcmp(env.cmd, "list") && !env.policy)
			argp_error(state, "%s", !strcmp(env.cmd, "detach") ?
				   "which policy? (NAME, iopf-policy list)" :
				   "which policy? (a bundled one or a .bpf.o)");
		if (env.pasid && env.pid)
			argp_error(state, "--pasid and -p: one target at a time");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child base_child[] = {
	{ &iopf_base_argp, 0, NULL, 0 },
	{},
};

int main(int argc, char **argv)
{
	static const struct argp target_argp = { .options = target_opts, .parser = parse_arg };
	static const struct argp_child run_children[] = {
		{ &target_argp, 0, "Target:", 0 },
		{ &iopf_base_argp, 0, NULL, 0 },
		{},
	};
	struct argp argp = { .parser = parse_arg, .children = base_child };
	struct policy p;
	char prog[64];
	int err;

	iopf_init();
	if (argc < 2) {
		fprintf(stderr, "%s: which command? (list, run, attach, detach, help)\n"
			"Try `%s --help' for more information.\n", tool, tool);
		return EXIT_USAGE;
	}
	env.cmd = argv[1];
	if (!strcmp(env.cmd, "-h") || !strcmp(env.cmd, "--help") ||
	    !strcmp(env.cmd, "--usage") || !strcmp(env.cmd, "-V") ||
	    !strcmp(env.cmd, "--version")) {
		static const struct argp top = { .doc = top_doc, .children = base_child };

		return argp_parse(&top, argc, argv, 0, NULL, NULL) ? EXIT_USAGE : 0;
	}
	env.opts = calloc(argc, sizeof(*env.opts));
	if (!strcmp(env.cmd, "list")) {
		argp.options = list_opts;
		argp.doc = "List the bundled fault policies, and the attached ones with their "
			   "targets and the kernel's counters for them.";
	} else if (!strcmp(env.cmd, "run")) {
		argp.options = run_opts;
		argp.args_doc = "POLICY [OPT=VALUE...]";
		argp.children = run_children;
		argp.doc = "Attach POLICY and print its counters every interval, and its "
			   "events, until Ctrl-C or until the kernel detaches it; then why it "
			   "was detached. Exit status 8 when the kernel detached it.";
	} else if (!strcmp(env.cmd, "attach")) {
		argp.args_doc = "POLICY [OPT=VALUE...]";
		argp.children = run_children;
		argp.doc = "Attach POLICY with a link pinned at " PIN_ROOT "/NAME, "
			   "where it stays until `iopf-policy detach NAME`.";
	} else if (!strcmp(env.cmd, "detach")) {
		argp.args_doc = "NAME";
		argp.doc = "Detach the attached policy NAME, pinned by iopf-policy attach or "
			   "held by any other process (iopf-policy run, bpftool).";
	} else if (!strcmp(env.cmd, "help")) {
		argp.args_doc = "POLICY";
		argp.doc = "What POLICY (bundled, or a .bpf.o) does, its options and counters.";
	} else {
		fprintf(stderr, "%s: unknown command '%s' (list, run, attach, detach, help)\n"
			"Try `%s --help' for more information.\n", tool, env.cmd, tool);
		return EXIT_USAGE;
	}
	snprintf(prog, sizeof(prog), "%s %s", tool, env.cmd);
	argv[1] = prog;
	if (argp_parse(&argp, argc - 1, argv + 1, 0, NULL, NULL))
		return EXIT_USAGE;

	if (!strcmp(env.cmd, "help")) {
		err = policy_open(&p, env.policy);
		if (!err)
			err = cmd_help(&p);
		bpf_object__close(p.obj);
		return err;
	}
	if (!strcmp(env.cmd, "list") || !strcmp(env.cmd, "detach")) {
		err = check_access();
		if (!err)
			err = !strcmp(env.cmd, "list") ? cmd_list() : cmd_detach(env.policy);
		close_policy_state();
		btf__free(vmlinux_btf);
		return err;
	}

	/* Bad input first, whatever the kernel: it changes nothing */
	if (env.device)
		check_device(env.device);
	err = policy_open(&p, env.policy);
	if (!err)
		err = policy_configure(&p);
	if (!err)
		err = check_access();
	if (!err)
		err = policy_load(&p);
	if (!err)
		err = !strcmp(env.cmd, "run") ? cmd_run(&p) : cmd_attach(&p);
	close_policy_state();
	bpf_object__close(p.obj);
	btf__free(vmlinux_btf);
	return err;
}
