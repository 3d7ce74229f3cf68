# SPDX-License-Identifier: GPL-2.0
# Sourced by run-host.sh and vm-suite.sh.  Runs kselftest programs (C with
# kselftest_harness.h, or shell with ktap_helpers.sh) as one TAP suite, like
# the kernel's selftest runner, and adds up the test cases they report.
#
#   run_suite NAME PROGRAM...
#
# Prints "# NAME totals: pass:P fail:F skip:S": the cases counted from each
# program's "# Totals:" line; a program that dies without printing one
# counts as one failed case.  Returns 0 when nothing failed.

run_suite() {
	local suite=$1; shift
	local n=0 pass=0 fail=0 skip=0
	local prog name out rc totals p f s

	echo "TAP version 13"
	echo "1..$#"
	for prog in "$@"; do
		n=$((n + 1))
		name=$(basename "$prog")
		out=$(mktemp)
		rc=0
		"$prog" > "$out" 2>&1 < /dev/null || rc=$?
		sed 's/^/# /' "$out"
		totals=$(grep -E '^# Totals: pass:[0-9]+ fail:[0-9]+' "$out" | tail -n 1)
		rm -f "$out"
		if [ -n "$totals" ]; then
			# error: counts cases that crashed inside the harness
			read -r p f s < <(echo "$totals" | tr ' ' '\n' | awk -F: '
				$1 == "pass" { p = $2 } $1 == "fail" || $1 == "error" { f += $2 }
				$1 == "skip" { s = $2 } END { print p + 0, f + 0, s + 0 }')
		else
			p=0; f=1; s=0
		fi
		# a program that reported no failure but exited non-zero failed
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ] && [ "$f" -eq 0 ]; then
			f=1
		fi
		pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
		if [ "$f" -gt 0 ]; then
			echo "not ok $n $suite: $name # exit=$rc"
		elif [ "$rc" -eq 4 ]; then
			echo "ok $n $suite: $name # SKIP"
		else
			echo "ok $n $suite: $name"
		fi
	done
	echo "# $suite totals: pass:$pass fail:$fail skip:$skip"
	[ "$fail" -eq 0 ]
}
