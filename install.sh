#!/bin/sh
# authctl installer:  curl -fsSL https://github.com/authctl/authctl/releases/latest/download/install.sh | sh
#
# POSIX sh (dash, busybox ash, bash, zsh). Never asks a question. Every failure names what
# failed and exits non-zero, and nothing touches an existing authctl until the new binary has
# been downloaded, checked against SHA256SUMS and has run once (`--version`) on this machine.
#
#   AUTHCTL_VERSION       install this version (e.g. 0.2.0) instead of the newest
#   AUTHCTL_DOWNLOAD_URL  the directory holding the release files and SHA256SUMS
#                         (default: the GitHub release for AUTHCTL_VERSION, else the latest)
#   AUTHCTL_INSTALL_DIR   where the binary goes (default: ~/.local/bin; as root /usr/local/bin)
#   AUTHCTL_TARGET        skip detection and install this build (e.g. linux-x64-musl)
#
# Everything is inside main(), called on the last line, so a download cut off halfway
# through this script runs nothing.
set -eu

# AUTHCTL_RELEASES_URL: a GitHub-style mirror (…/latest/download, …/download/v<version>); a test hook.
RELEASES=${AUTHCTL_RELEASES_URL:-https://github.com/authctl/authctl/releases}
RELEASES=${RELEASES%/}
TARGETS="linux-x64 linux-x64-baseline linux-arm64 linux-x64-musl linux-arm64-musl darwin-x64 darwin-arm64 windows-x64"

say() { printf '%s\n' "$*" >&2; }
fail() {
	printf 'authctl install: error: %s\n' "$1" >&2
	[ $# -lt 2 ] || printf '  → %s\n' "$2" >&2
	exit 1
}
has() { command -v "$1" >/dev/null 2>&1; }

# musl or glibc: the dynamic loader on disk says which libc the system runs. When both are
# present (Debian with the musl package, Alpine with gcompat) or neither, ldd decides: musl's
# ldd names itself in `ldd --version`.
libc_suffix() {
	glibc=no musl=no
	for f in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1; do
		[ -e "$f" ] && glibc=yes
	done
	for f in /lib/ld-musl-*.so.1; do
		[ -e "$f" ] && musl=yes
	done
	if [ "$musl" = yes ] && [ "$glibc" = no ]; then
		echo -musl
	elif [ "$musl" = "$glibc" ] && has ldd; then
		case "$(ldd --version 2>&1 || true)" in *musl*) echo -musl ;; esac
	fi
	return 0
}

detect_target() {
	os=$(uname -s)
	arch=$(uname -m)
	case "$os" in
	Linux) os=linux ;;
	Darwin) os=darwin ;;
	MINGW* | MSYS* | CYGWIN* | Windows_NT)
		fail "this installer is for Linux and macOS" \
			"on Windows download authctl-windows-x64.exe from $RELEASES and put it on your PATH" ;;
	*) fail "unsupported operating system: $os (authctl is built for Linux, macOS and Windows)" ;;
	esac
	case "$arch" in
	x86_64 | amd64) arch=x64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) fail "unsupported CPU architecture: $arch (authctl is built for x86_64 and arm64)" ;;
	esac
	# An x64 shell on Apple Silicon runs under Rosetta 2: the native arm64 build is faster.
	if [ "$os" = darwin ] && [ "$arch" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
		arch=arm64
	fi
	target="$os-$arch"
	if [ "$os" = linux ]; then
		suffix=$(libc_suffix)
		if [ -n "$suffix" ]; then
			target="$target$suffix"
		elif [ "$arch" = x64 ] && ! grep -q avx2 /proc/cpuinfo 2>/dev/null; then
			# The default x64 build needs AVX2 (Haswell, 2013, and later); older CPUs get the
			# baseline build instead of dying with "Illegal instruction".
			target="$target-baseline"
		fi
	fi
	echo "$target"
}

# download URL FILE: curl, else GNU wget. Redirects are followed (GitHub's latest/download answers
# with one), and for an https base every hop must stay https: curl refuses the others itself
# (--proto-redir); GNU wget follows https → http even with --https-only, so its log is read for the
# hops and the download refused when one left https. Both insist on TLS 1.2 or newer, as
# rustup-init.sh does. BusyBox wget does not verify certificates ("TLS certificate validation not
# implemented"), so it is used for plain-http loopback mirrors only.
download() {
	if has curl; then
		curl --fail --silent --show-error --location --proto "$redirect_protocols" --proto-redir "$redirect_protocols" \
			${tls_only:+--tlsv1.2} --retry 2 --output "$2" "$1" || return 1
	elif has wget; then
		detect_wget
		if [ -n "$tls_only" ] && [ "$wget_kind" != gnu ]; then
			fail "an https download needs curl or GNU wget 1.18 or newer; the wget here is $wget_kind, which does not verify TLS certificates (or cannot be held to https); nothing was installed" \
				"install curl (apt-get install curl, apk add curl, dnf install curl) and run this again"
		fi
		if [ -n "$tls_only" ]; then
			# wget's own complaint (an untrusted certificate, a refused connection) goes to its log.
			LC_ALL=C wget --https-only --secure-protocol=TLSv1_2 --progress=dot:mega -o "$tmpdir/wget.log" -O "$2" "$1" ||
				{ awk '/^ERROR|failed:|unable to/ { print "  wget: " $0 }' "$tmpdir/wget.log" >&2; return 1; }
			# "Location: <url> [following]" per hop; a relative Location keeps the scheme.
			if grep '^Location: [A-Za-z][A-Za-z0-9+.-]*:' "$tmpdir/wget.log" | grep -v '^Location: https://' >/dev/null; then
				rm -f "$2"
				fail "refusing $1: a redirect left https ($(awk '$1 == "Location:" && $2 !~ /^https:/ { print $2; exit }' "$tmpdir/wget.log")); nothing was installed" \
					"try again on another network, or install curl and run this again"
			fi
		else
			wget -q -O "$2" "$1" || return 1
		fi
	else
		fail "neither curl nor wget is installed" "install one of them (e.g. apt-get install curl) and run this again"
	fi
}

# wget_kind: "gnu" for GNU wget 1.18 or newer (it verifies certificates and has --https-only), else
# a name for the message. Only grep and awk: a BusyBox system may have nothing else.
detect_wget() {
	[ -z "${wget_kind:-}" ] || return 0
	if wget --version 2>/dev/null | grep -q '^GNU Wget'; then
		wget_kind="GNU wget older than 1.18"
		! wget --help 2>/dev/null | grep -q -- --https-only || wget_kind=gnu
	elif wget --help 2>&1 | grep -q BusyBox; then
		wget_kind="BusyBox wget"
	else
		wget_kind="an unknown wget"
	fi
}

# is_loopback_http URL: http://127.0.0.1, http://localhost or http://[::1], with an optional numeric
# port and nothing else in the authority. The URL is taken apart, not pattern-matched:
# http://127.0.0.1:x@evil.example/ names the host evil.example.
is_loopback_http() {
	rest=${1#http://}
	[ "$rest" != "$1" ] || return 1
	authority=${rest%%/*}
	case "$authority" in *[@?#\\]* | "") return 1 ;; esac
	case "$authority" in
	"[::1]" | "[::1]:"*) port=${authority#"[::1]"} ;;
	127.0.0.1 | 127.0.0.1:*) port=${authority#127.0.0.1} ;;
	localhost | localhost:*) port=${authority#localhost} ;;
	*) return 1 ;;
	esac
	port=${port#:}
	case "$port" in *[!0-9]*) return 1 ;; esac
	return 0
}

sha256_of() {
	if has sha256sum; then
		sha256sum "$1" | awk '{print $1}'
	elif has shasum; then
		shasum -a 256 "$1" | awk '{print $1}'
	else
		fail "cannot verify the download: neither sha256sum nor shasum is installed" \
			"install coreutils (sha256sum) or perl (shasum) and run this again"
	fi
}

main() {
	version=${AUTHCTL_VERSION:-}
	version=${version#v}
	[ "$version" != latest ] || version=""

	if [ -n "${AUTHCTL_TARGET:-}" ]; then
		target=$AUTHCTL_TARGET
		case " $TARGETS " in *" $target "*) ;; *) fail "AUTHCTL_TARGET=$target is not a release target" "use one of: $TARGETS" ;; esac
	else
		target=$(detect_target)
	fi
	asset="authctl-$target"
	case "$target" in windows-*) asset="$asset.exe" ;; esac

	if [ -n "${AUTHCTL_DOWNLOAD_URL:-}" ]; then
		base=${AUTHCTL_DOWNLOAD_URL%/}
	elif [ -n "$version" ]; then
		base="$RELEASES/download/v$version"
	else
		base="$RELEASES/latest/download"
	fi
	# The checksum only proves the file matches SHA256SUMS from the same server, so both must
	# come over TLS. Plain http is allowed for loopback mirrors (tests, local caches) only.
	redirect_protocols="=https" tls_only=yes
	case "$base" in
	https://*) ;;
	*)
		is_loopback_http "$base" || fail "AUTHCTL_DOWNLOAD_URL must be an https:// URL (got: $base)"
		redirect_protocols="=https,http" tls_only=""
		;;
	esac

	if [ -n "${AUTHCTL_INSTALL_DIR:-}" ]; then
		dir=${AUTHCTL_INSTALL_DIR%/}
	elif [ "$(id -u)" = 0 ]; then
		dir=/usr/local/bin
	else
		[ -n "${HOME:-}" ] || fail "HOME is not set" "set AUTHCTL_INSTALL_DIR to the directory authctl should go to"
		dir="$HOME/.local/bin"
	fi
	[ -n "$dir" ] || dir=/

	tmpdir=$(mktemp -d 2>/dev/null || mktemp -d -t authctl) || fail "cannot create a temporary directory"
	staged="" created="" finished=""
	trap 'rm -rf "$tmpdir"; [ -z "$staged" ] || rm -f "$staged"; [ -n "$finished" ] || remove_created' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	# The install directory is checked before anything is downloaded (the binary is over 100 MB): a
	# directory that cannot be created or takes no file is reported at once. The staging file sits
	# next to the destination, so the final mv is a rename on one file system: whoever runs authctl
	# sees the old binary or the new one, never half of one. A failed install removes the
	# directories it created.
	created=$(first_missing "$dir")
	mkdir -p "$dir" 2>/dev/null || fail "cannot create the install directory $dir" \
		"set AUTHCTL_INSTALL_DIR to a directory you can write to"
	# mv onto a directory (or a symlink to one) moves the file into it: the install would say
	# "installed" and leave no authctl to run.
	if [ -d "$dir/authctl" ]; then
		fail "$dir/authctl is a directory; nothing was installed" \
			"remove or rename it, or set AUTHCTL_INSTALL_DIR to another directory"
	fi
	staged="$dir/.authctl.tmp.$$"
	(set -C && : >"$staged") 2>/dev/null || { staged=""; fail "cannot write to $dir" \
		"set AUTHCTL_INSTALL_DIR to a directory you can write to, or run as a user who can write there"; }

	say "authctl install: $asset${version:+ v$version} from $base"
	download "$base/SHA256SUMS" "$tmpdir/SHA256SUMS" ||
		fail "could not download $base/SHA256SUMS" \
			"${version:+is $version a released version? }see $RELEASES"
	expected=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$tmpdir/SHA256SUMS")
	[ -n "$expected" ] || fail "SHA256SUMS has no entry for $asset; nothing was installed"

	# The same build is already there: say so instead of downloading it again.
	if [ -f "$dir/authctl" ] && [ "$(sha256_of "$dir/authctl")" = "$expected" ]; then
		finished=yes
		say "authctl $("$dir/authctl" --version </dev/null 2>/dev/null || echo "${version:-(newest)}") is already installed at $dir/authctl (it matches SHA256SUMS); nothing was changed"
		path_notes
		return 0
	fi

	download "$base/$asset" "$tmpdir/$asset" ||
		fail "could not download $base/$asset" "${version:+is there a $asset in release v$version? }see $RELEASES"
	actual=$(sha256_of "$tmpdir/$asset")
	if [ "$actual" != "$expected" ]; then
		fail "checksum mismatch for $asset: expected $expected, got $actual; nothing was installed" \
			"the download was corrupted or tampered with; try again, and report it if it persists"
	fi

	cp "$tmpdir/$asset" "$staged" 2>/dev/null || fail "cannot write to $dir" \
		"set AUTHCTL_INSTALL_DIR to a directory you can write to, or run as a user who can write there"
	chmod 0755 "$staged" || fail "cannot make $staged executable"
	installed=$("$staged" --version </dev/null 2>/dev/null) ||
		fail "the downloaded $asset does not run on this machine; nothing was installed" \
			"AUTHCTL_TARGET picks another build (one of: $TARGETS)"
	# Without AUTHCTL_VERSION the newest release was asked for: a "latest" older than the authctl
	# already here (a stale mirror or cache, a release tag moved back) is refused, as
	# `authctl upgrade` refuses it. Going back on purpose stays one variable away.
	if [ -z "$version" ] && [ -x "$dir/authctl" ] && [ ! -d "$dir/authctl" ]; then
		current=$("$dir/authctl" --version </dev/null 2>/dev/null || true)
		if version_older "$installed" "$current"; then
			fail "the newest release at $base is $installed, older than the authctl $current at $dir/authctl; nothing was installed" \
				"to go back to $installed on purpose: AUTHCTL_VERSION=$installed"
		fi
	fi
	mv -f "$staged" "$dir/authctl" || fail "cannot move the new binary to $dir/authctl"
	staged="" finished=yes

	say "authctl $installed installed to $dir/authctl (sha256 $actual)"
	path_notes
	say "get started: authctl login"
}

# version_older A B: true when A is a lower semantic version than B (the numbers first, then a
# pre-release below its release; pre-releases of one version compare as text). Anything that is
# not a version is never older.
version_older() {
	printf '%s\n%s\n' "$1" "$2" | awk '
		{ v[NR] = $0 }
		END {
			for (i = 1; i <= 2; i++) {
				s = v[i]; sub(/^v/, "", s); sub(/\+.*/, "", s)
				pre[i] = ""
				if (index(s, "-")) { pre[i] = substr(s, index(s, "-") + 1); s = substr(s, 1, index(s, "-") - 1) }
				if (split(s, n, ".") != 3 || s !~ /^[0-9]+\.[0-9]+\.[0-9]+$/) exit 1
				a[i] = n[1]; b[i] = n[2]; c[i] = n[3]
			}
			if (a[1] != a[2]) exit !(a[1] + 0 < a[2] + 0)
			if (b[1] != b[2]) exit !(b[1] + 0 < b[2] + 0)
			if (c[1] != c[2]) exit !(c[1] + 0 < c[2] + 0)
			if (pre[1] == pre[2] || pre[1] == "") exit 1
			if (pre[2] == "") exit 0
			exit !(pre[1] < pre[2])
		}'
}

# first_missing DIR: the topmost directory of DIR that does not exist yet ("" when DIR exists).
first_missing() {
	missing="" d=$1
	while [ -n "$d" ] && [ ! -e "$d" ]; do
		missing=$d
		case "$d" in */*) d=${d%/*} ;; *) d="" ;; esac
	done
	printf '%s' "$missing"
}

# Removes the directories this run created, innermost first; rmdir never removes a non-empty one.
remove_created() {
	[ -n "$created" ] || return 0
	d=$dir
	while [ -n "$d" ] && [ "$d" != "$created" ]; do
		rmdir "$d" 2>/dev/null || return 0
		d=${d%/*}
	done
	rmdir "$created" 2>/dev/null || true
}

# Where the new binary stands on PATH, and any other copy that shadows it or that it shadows: a
# user's ~/.local/bin/authctl and the system's /usr/local/bin/authctl are both common, and which
# one runs depends on PATH order.
path_notes() {
	found=$(command -v authctl 2>/dev/null || true)
	case ":${PATH:-}:" in
	*":$dir:"*)
		if [ -n "$found" ] && [ "$found" != "$dir/authctl" ]; then
			say "note: $found comes first on your PATH and shadows the new binary"
		fi
		;;
	*)
		say ""
		say "$dir is not on your PATH. Add it (e.g. in ~/.profile, ~/.bashrc or ~/.zshrc):"
		say "  export PATH=\"$dir:\$PATH\""
		[ -z "$found" ] || say "note: until then, 'authctl' runs $found"
		;;
	esac
	for other in /usr/local/bin/authctl ${HOME:+"$HOME/.local/bin/authctl"}; do
		if [ "$other" != "$dir/authctl" ] && [ "$other" != "$found" ] && [ -e "$other" ]; then
			say "note: another authctl is installed at $other; whichever directory comes first on PATH wins, so remove the one you do not use"
		fi
	done
}

main "$@"
