#!/bin/bash
# Install, with apt-get only, everything a fresh Debian 12 machine lacks to
# build the patched kernel, libbpf, bpftool, the BPF programs and the tools,
# and to run them under QEMU.  Idempotent: when every package is present it
# only runs dpkg-query and exits.
set -euo pipefail

PKGS=(
	linux-source-6.12
	build-essential gcc make flex bison bc kmod cpio xz-utils
	libelf-dev zlib1g-dev libssl-dev libcap-dev libzstd-dev
	dwarves
	clang-19 llvm-19 lld-19
	qemu-system-x86 busybox-static
	ccache git perl python3
	bpftrace linux-perf
	libmicrohttpd-dev pkg-config prometheus tmux curl groff-base man-db
)

missing=()
for p in "${PKGS[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	[ "${1:-}" = "-q" ] || echo "deps: all ${#PKGS[@]} packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run 'make deps' as root (it uses apt-get)" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
