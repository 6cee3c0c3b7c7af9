# shellcheck shell=bash
# Sourced by hack/assets.sh, the scripts its groups run and hack/step.sh (the Makefile's
# installs): a long first run says what it is doing while it does it, in a few short lines.
#
#   step VERB WHAT ESTIMATE CMD...
#       Runs CMD, whose output goes where the caller sends it (a log file, usually). Says
#         [assets] building kube-apiserver (16m22s here last time)
#       or, the first time on this machine, "(first time here: about 16m)", from ESTIMATE
#       (seconds); then, every PROGRESS_INTERVAL seconds (60) while CMD runs,
#         [assets] still building kube-apiserver: 4m10s of ~16m
#       and when it ends "[assets] built kube-apiserver in 16m2s", or "... FAILED after 3m1s".
#       The time is kept in the cache (durations.tsv) for the next first line. The status is
#       CMD's. VERB is build, install, download or resolve.
#
#   quietly LOG CMD...
#       Runs CMD with its output in LOG (appended); on failure prints LOG's last 30 lines.
#
# The lines go to the file descriptor PROGRESS_FD when it is set (hack/assets.sh sets it to
# its own stderr, so a group whose stderr is a log file still reaches the terminal), else to
# stderr; their tag is PROGRESS_TAG (assets). Under hack/assets.sh (PROGRESS_DIR set) a step
# does not beat by itself: it writes what it does to PROGRESS_DIR/PROGRESS_GROUP, and
# progress_watch says once a minute what all groups are doing, in one line.

PROGRESS_INTERVAL="${PROGRESS_INTERVAL:-60}"
PROGRESS_TAG="${PROGRESS_TAG:-assets}"
PROGRESS_DURATIONS="${PROGRESS_DURATIONS:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway/durations.tsv}"

_progress_say() {
  if [[ -n "${PROGRESS_FD:-}" ]] && { printf '[%s] %s\n' "$PROGRESS_TAG" "$*" >&"$PROGRESS_FD"; } 2>/dev/null; then
    return 0
  fi
  printf '[%s] %s\n' "$PROGRESS_TAG" "$*" >&2
}

# 45s, 4m10s, 1h02m
progress_human() {
  local s="$1"
  if ((s < 60)); then
    printf '%ds' "$s"
  elif ((s < 3600)); then
    printf '%dm%02ds' $((s / 60)) $((s % 60))
  else
    printf '%dh%02dm' $((s / 3600)) $((s % 3600 / 60))
  fi
}

# ~45s, ~16m: an estimate, to the minute past one.
_progress_about() {
  local s="$1"
  if ((s < 60)); then printf '~%ds' "$s"; else printf '~%dm' $(((s + 30) / 60)); fi
}

_progress_ing() {
  case "$1" in
    build) echo building ;; install) echo installing ;; download) echo downloading ;;
    resolve) echo resolving ;; *) echo "$1" ;;
  esac
}
_progress_ed() {
  case "$1" in
    build) echo built ;; install) echo installed ;; download) echo downloaded ;;
    resolve) echo resolved ;; *) echo "$1 done:" ;;
  esac
}

# The seconds STEP took the last time it ran here, or nothing.
progress_last() {
  [[ -f "$PROGRESS_DURATIONS" ]] || return 0
  awk -F '\t' -v key="$1" '$1 == key { last = $2 } END { if (last != "") print last }' \
    "$PROGRESS_DURATIONS"
}

progress_record() { # STEP SECONDS
  local file="$PROGRESS_DURATIONS"
  mkdir -p "$(dirname "$file")"
  (
    flock 6
    { [[ -f "$file" ]] && awk -F '\t' -v key="$1" '$1 != key' "$file"
      printf '%s\t%s\t%s\n' "$1" "$2" "$(date -u +%FT%TZ)"; } >"$file.tmp"
    mv -f "$file.tmp" "$file"
  ) 6>>"$file.lock"
}

# "4m10s of ~16m", or "17m02s, ~16m expected" once past it.
_progress_elapsed() { # SECONDS ESTIMATE
  if (($1 <= $2)); then
    printf '%s of %s' "$(progress_human "$1")" "$(_progress_about "$2")"
  else
    printf '%s, %s expected' "$(progress_human "$1")" "$(_progress_about "$2")"
  fi
}

# Whether process PID runs. A zombie does not: a script killed while its caller reads its output
# (`$(...)`) stays one until the caller reaps it, which it does only once the pipe is closed.
_progress_alive() {
  if [[ -r "/proc/$1/status" ]]; then
    ! grep -q '^State:[[:space:]]*[ZX]' "/proc/$1/status" 2>/dev/null
  else
    kill -0 "$1" 2>/dev/null
  fi
}

# A beat every PROGRESS_INTERVAL seconds until killed, or until OWNER, the shell that started it,
# is gone (a background job ignores Ctrl-C); its sleep goes with it, so nothing of it holds the
# caller's pipes open once the step is over.
_progress_beat() { # OWNER PHRASE START ESTIMATE
  local nap
  trap '[[ -n "${nap:-}" ]] && kill "$nap" 2>/dev/null; exit 0' TERM
  while :; do
    sleep "$PROGRESS_INTERVAL" &
    nap=$!
    wait "$nap"
    _progress_alive "$1" || exit 0
    _progress_say "still $2: $(_progress_elapsed $(($(date +%s) - $3)) "$4")"
  done
}

step() {
  local verb="$1" what="$2" estimate="$3" key last phrase t0 beat="" status=0 took owner=$BASHPID
  shift 3
  key="$verb $what"
  phrase="$(_progress_ing "$verb") $what"
  last="$(progress_last "$key")"
  if [[ -n "$last" ]]; then
    _progress_say "$phrase ($(progress_human "$last") here last time)"
    estimate="$last"
  else
    _progress_say "$phrase (first time here: about $(_progress_about "$estimate" | tr -d '~'))"
  fi
  t0=$(date +%s)
  if [[ -n "${PROGRESS_DIR:-}" ]]; then
    printf '%s\t%s\t%s\n' "$what" "$t0" "$estimate" >"$PROGRESS_DIR/${PROGRESS_GROUP:-$$}"
  else
    # (owner, not $BASHPID here: an asynchronous command's words are expanded in its child.)
    _progress_beat "$owner" "$phrase" "$t0" "$estimate" </dev/null >/dev/null &
    beat=$!
  fi
  "$@" || status=$?
  if [[ -n "$beat" ]]; then
    kill "$beat" 2>/dev/null || true
    wait "$beat" 2>/dev/null || true
  fi
  [[ -n "${PROGRESS_DIR:-}" ]] && rm -f "$PROGRESS_DIR/${PROGRESS_GROUP:-$$}"
  took=$(($(date +%s) - t0))
  if ((status == 0)); then
    progress_record "$key" "$took"
    _progress_say "$(_progress_ed "$verb") $what in $(progress_human "$took")"
  else
    _progress_say "$phrase FAILED after $(progress_human "$took")"
  fi
  return "$status"
}

quietly() { # LOG CMD...
  local log="$1" status=0
  shift
  mkdir -p "$(dirname "$log")"
  "$@" >>"$log" 2>&1 || status=$?
  if ((status != 0)); then
    tail -n 30 "$log" >&2
    printf '(the whole log: %s)\n' "$log" >&2
  fi
  return "$status"
}

# One line, every PROGRESS_INTERVAL seconds while PID runs, of what each group is doing:
#   [assets] 12m30s in: kube-apiserver 4m10s of ~16m, jaeger 1m02s of ~10m
progress_watch() { # PID START
  local pid="$1" start="$2" now file what t0 estimate doing joined nap
  trap '[[ -n "${nap:-}" ]] && kill "$nap" 2>/dev/null; exit 0' TERM
  while _progress_alive "$pid"; do
    sleep "$PROGRESS_INTERVAL" &
    nap=$!
    wait "$nap"
    _progress_alive "$pid" || break
    now=$(date +%s)
    doing=()
    for file in "$PROGRESS_DIR"/*; do
      [[ -f "$file" ]] || continue
      IFS=$'\t' read -r what t0 estimate <"$file" || continue
      doing+=("$what $(_progress_elapsed $((now - t0)) "$estimate")")
    done
    if ((${#doing[@]} == 0)); then
      doing=("checking what is built")
    fi
    joined="$(printf '%s, ' "${doing[@]}")"
    _progress_say "$(progress_human $((now - start))) in: ${joined%, }"
  done
}
