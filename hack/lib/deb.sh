# Sourced by the scripts that unpack a tool from Debian's packages into the cache
# (hack/prometheus.sh, hack/redis.sh) instead of installing it: no service starts and nothing
# outside the cache folder changes.
#
#   deb_tool NAME DIR PACKAGE [MORE_PACKAGES...]
#
# Downloads PACKAGE (at its candidate version, which names the cache folder) and the others,
# unpacks them all into one tree, and calls the caller's `install ROOT DIR`, which moves what it
# needs from ROOT into DIR and checks it. DIR empty: ~/.cache/temporal-gateway/NAME/<version>.
# Prints the directory; a second call only prints it. Concurrent callers wait on a lock.

log() { printf '[%s] %s\n' "$DEB_TOOL" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# step VERB WHAT ESTIMATE CMD...: the first run says what it fetches while it does.
source "$(dirname "${BASH_SOURCE[0]}")/progress.sh"

_candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }

deb_tool() {
  local name="$1" dir="$2" package="$3"
  shift 3
  command -v apt-get >/dev/null || die "apt-get not found: this script unpacks Debian's packages"
  local version
  version="$(_candidate "$package")"
  if [[ -z "$version" || "$version" == "(none)" ]]; then
    log "no package list yet: apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    version="$(_candidate "$package")"
  fi
  [[ -n "$version" && "$version" != "(none)" ]] || die "no '$package' package in the apt sources"

  dir="${dir:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway/$name/${version//[:+~]/_}}"
  local stamp="$dir/.$name.stamp"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$version" ]]; then
    mkdir -p "$dir"
    exec 9>"$dir/.lock"
    flock 9
    # Somebody else may have finished while we waited.
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$version" ]]; then
      step download "Debian's $package" 20 _deb_unpack "$dir" "$package=$version" "$@"
      printf '%s\n' "$version" >"$stamp"
    fi
  fi
  printf '%s\n' "$dir"
}

_deb_unpack() {
  local dir="$1" deb
  shift
  _deb_work="$(mktemp -d "${TMPDIR:-/tmp}/$DEB_TOOL-deb.XXXXXX")"
  trap 'rm -rf "$_deb_work"' EXIT
  # apt's sandbox user cannot write to a root-owned mktemp folder; let it.
  chmod 0777 "$_deb_work"
  log "downloading $*"
  (cd "$_deb_work" && apt-get download -qq "$@") >&2 || die "apt-get download failed"
  for deb in "$_deb_work"/*.deb; do
    dpkg-deb -x "$deb" "$_deb_work/root"
  done
  install "$_deb_work/root" "$dir"
}
