#!/usr/bin/env bash
# Checks that every shared library BINARY links directly (its NEEDED entries, resolved by ldd)
# belongs to a Debian package named in PACKAGES_FILE (default: runtime-packages.txt beside this
# script), so the slim runtime image, which installs only that list, can run the binary built in
# the build image. Libraries those libraries load in turn come with their packages' Depends.
# Usage: check-runtime-libs.sh BINARY [PACKAGES_FILE]
# Prints "needs: pkg ..." and exits 0 when all are listed; exits 1 naming each missing package
# (or library without a package), 2 on usage errors.
set -euo pipefail
bin=${1:?usage: check-runtime-libs.sh BINARY [PACKAGES_FILE]}
list=${2:-$(dirname "$0")/runtime-packages.txt}
[ -x "$bin" ] || { echo "check-runtime-libs: $bin is not an executable" >&2; exit 2; }
[ -f "$list" ] || { echo "check-runtime-libs: $list not found" >&2; exit 2; }

listed=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$' | sort -u)

# On merged-/usr Debian a library may be registered under /lib or /usr/lib: ask dpkg for each
# spelling of the path ldd printed and of its resolved target.
owner() {
  local p=$1 c
  for c in "$p" "$(readlink -f "$p")"; do
    for v in "$c" "${c#/usr}" "/usr$c"; do
      if out=$(dpkg -S "$v" 2>/dev/null); then
        echo "${out%%:*}"
        return 0
      fi
    done
  done
  return 1
}

direct=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$direct" ] || { echo "check-runtime-libs: $bin has no NEEDED entries (static?)" >&2; exit 2; }

status=0
needed=()
while read -r line; do
  case $line in
    *"not found"*) echo "check-runtime-libs: $bin: ${line%% *} not found by the loader" >&2; status=1; continue ;;
  esac
  soname=${line%% *}
  grep -qxF "$soname" <<<"$direct" || continue
  # "libx.so.1 => /path/libx.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
  path=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) { print $i; exit } }' <<<"$line")
  [ -n "$path" ] || continue   # linux-vdso.so.1 has no file
  if pkg=$(owner "$path"); then
    pkg=${pkg%%,*}
    needed+=("$pkg")
  else
    echo "check-runtime-libs: $path belongs to no Debian package" >&2
    status=1
  fi
done < <(ldd "$bin")

missing=()
for p in $(printf '%s\n' "${needed[@]}" | sort -u); do
  grep -qxF "$p" <<<"$listed" || missing+=("$p")
done
echo "needs: $(printf '%s\n' "${needed[@]}" | sort -u | tr '\n' ' ')"
if [ ${#missing[@]} -gt 0 ]; then
  echo "check-runtime-libs: not in $list: ${missing[*]}" >&2
  status=1
fi
exit $status
