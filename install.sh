#!/bin/sh
# Installs the mcp-bridge executable for this machine:
#
#   curl -fsSL https://github.com/mcp-bridge/mcp-bridge/releases/latest/download/install.sh | sh
#
# Environment:
#   MCP_BRIDGE_VERSION      release to install, e.g. v0.1.0 (default: the latest release)
#   MCP_BRIDGE_BASE_URL     directory URL holding the archives and SHA256SUMS side by side (a mirror,
#                           or dist/release/ served locally); replaces the release download location
#   MCP_BRIDGE_INSTALL_DIR  where the executable goes (default: ~/.local/bin; /usr/local/bin as root)
#
# It downloads mcp-bridge-<os>-<arch>.tar.gz and SHA256SUMS, checks the archive's SHA-256, and puts
# the executable in place atomically; running it again with the same release changes nothing.
set -eu

RELEASES_URL="https://github.com/mcp-bridge/mcp-bridge/releases"

say() {
  printf '%s\n' "$*" >&2
}

fail() {
  printf 'mcp-bridge install: error: %s\n' "$*" >&2
  exit 1
}

has() {
  command -v "$1" >/dev/null 2>&1
}

detect_target() {
  os=$(uname -s)
  arch=$(uname -m)
  case $os in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    MINGW* | MSYS* | CYGWIN*) fail "on Windows, download mcp-bridge-win-x64.zip from $RELEASES_URL and check it against SHA256SUMS" ;;
    *) fail "unsupported operating system \"$os\": release builds exist for Linux and macOS (x64, arm64) and Windows (x64)" ;;
  esac
  case $arch in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) fail "unsupported architecture \"$arch\" on $os: release builds exist for x64 and arm64" ;;
  esac
  # A shell running under Rosetta reports x86_64 on an Apple silicon Mac: take the native build.
  if [ "$os" = darwin ] && [ "$arch" = x64 ] && [ "$(sysctl -n hw.optional.arm64 2>/dev/null || echo 0)" = 1 ]; then
    arch=arm64
  fi
  if [ "$os" = linux ]; then
    for loader in /lib/ld-musl-*; do
      [ -e "$loader" ] && fail "this Linux uses musl libc (Alpine?); the release builds need glibc"
    done
  fi
  target="$os-$arch"
}

# download URL FILE: fails with the HTTP status when the server refuses.
download() {
  if has curl; then
    status=$(curl -sSL --retry 2 -o "$2" -w '%{http_code}' "$1") || fail "could not download $1 (curl exit $?)"
    [ "$status" = 200 ] || fail "could not download $1: HTTP $status"
  elif has wget; then
    wget -q -O "$2" "$1" || fail "could not download $1 (wget exit $?; HTTP 404 if the release or platform does not exist)"
  else
    fail "this script needs curl or wget"
  fi
}

sha256_of() {
  if has sha256sum; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif has shasum; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    fail "this script needs sha256sum or shasum to verify the download"
  fi
}

main() {
  detect_target
  for tool in uname tar gzip mkdir cp mv chmod cmp awk; do
    has "$tool" || fail "this script needs $tool"
  done
  has sha256sum || has shasum || fail "this script needs sha256sum or shasum to verify the download"
  has curl || has wget || fail "this script needs curl or wget"

  version=${MCP_BRIDGE_VERSION:-latest}
  if [ -n "${MCP_BRIDGE_BASE_URL:-}" ]; then
    base=${MCP_BRIDGE_BASE_URL%/}
  elif [ "$version" = latest ]; then
    base="$RELEASES_URL/latest/download"
  else
    case $version in v*) ;; *) version="v$version" ;; esac
    base="$RELEASES_URL/download/$version"
  fi
  if [ -n "${MCP_BRIDGE_INSTALL_DIR:-}" ]; then
    dir=$MCP_BRIDGE_INSTALL_DIR
  elif [ "$(id -u)" = 0 ]; then
    dir=/usr/local/bin
  else
    [ -n "${HOME:-}" ] || fail "HOME is not set: set MCP_BRIDGE_INSTALL_DIR"
    dir="$HOME/.local/bin"
  fi

  archive="mcp-bridge-$target.tar.gz"
  tmp=$(mktemp -d 2>/dev/null || mktemp -d -t mcp-bridge)
  trap 'rm -rf "$tmp"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  say "Downloading $base/$archive"
  download "$base/SHA256SUMS" "$tmp/SHA256SUMS"
  download "$base/$archive" "$tmp/$archive"
  expected=$(awk -v name="$archive" '$2 == name || $2 == "*" name { print $1; exit }' "$tmp/SHA256SUMS")
  [ -n "$expected" ] || fail "SHA256SUMS at $base lists no $archive"
  actual=$(sha256_of "$tmp/$archive")
  [ "$actual" = "$expected" ] || fail "checksum mismatch for $archive: expected $expected, got $actual; nothing was installed"

  tar -xzf "$tmp/$archive" -C "$tmp" mcp-bridge || fail "could not unpack $archive"
  chmod 755 "$tmp/mcp-bridge"
  mkdir -p "$dir" || fail "cannot create $dir (set MCP_BRIDGE_INSTALL_DIR to a writable directory)"
  if [ -f "$dir/mcp-bridge" ] && cmp -s "$tmp/mcp-bridge" "$dir/mcp-bridge"; then
    say "$dir/mcp-bridge is already this release; nothing to do."
  else
    # Copy beside the target, then rename: atomic, and safe while the old binary is running.
    cp "$tmp/mcp-bridge" "$dir/.mcp-bridge.$$" || fail "cannot write to $dir (set MCP_BRIDGE_INSTALL_DIR to a writable directory)"
    mv -f "$dir/.mcp-bridge.$$" "$dir/mcp-bridge"
    say "Installed $dir/mcp-bridge ($("$dir/mcp-bridge" --version 2>/dev/null || echo "$target"))."
  fi

  case ":${PATH:-}:" in
    *":$dir:"*) ;;
    *) say "$dir is not on your PATH. Add it, e.g. in ~/.profile:  export PATH=\"$dir:\$PATH\"" ;;
  esac
}

main "$@"
