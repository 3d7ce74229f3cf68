#!/bin/bash
# console-check.sh CONSOLE_LOG
#
# Exit 1, printing each report with a little context, when a guest console
# shows a kernel splat: a WARN, a BUG, an Oops, a KASAN or UBSAN report, a
# lockdep report, a kmemleak report, a hung task, an RCU stall or a panic.
# Exit 0 when the console is clean.  Command output never reaches this log
# (the harness sends it to another serial port), so a test that prints
# "WARNING:" cannot fail the run, and cannot hide one either.
set -u
log=${1:?usage: console-check.sh CONSOLE_LOG}
[ -r "$log" ] || { echo "console-check: cannot read $log" >&2; exit 2; }

patterns=(
	'WARNING:'                          # WARN_ON, lockdep, suspicious RCU usage
	'BUG:'                              # BUG_ON, KASAN, sleeping in atomic, ...
	'kernel BUG at'
	'Oops'
	'KASAN'
	'UBSAN:'
	'general protection fault'
	'Kernel panic'
	'possible circular locking dependency'
	'possible recursive locking'
	'inconsistent lock state'
	'DEBUG_LOCKS_WARN_ON'
	'INFO: lockdep'
	'unreferenced object 0x'            # kmemleak report
	'kmemleak: .*suspected memory leak'
	'INFO: task .* blocked for more than'
	'rcu: INFO: .* detected stall'
	'refcount_t: '
	'list_add corruption|list_del corruption'
)

regex=$(IFS='|'; echo "${patterns[*]}")
hits=$(grep -nE -- "$regex" "$log" | head -n 20)
[ -z "$hits" ] && exit 0

echo "console-check: kernel reports in $log:"
first=$(echo "$hits" | head -n 1 | cut -d: -f1)
echo "$hits" | sed 's/^/  /'
echo "console-check: context of the first report (line $first):"
sed -n "$((first > 5 ? first - 5 : 1)),$((first + 30))p" "$log" | sed 's/^/  | /'
exit 1
