#!/usr/bin/env bash
# One step of a first run, announced (hack/lib/progress.sh): for the Makefile's installs.
#   hack/step.sh [-t TAG] [-l LOG] VERB WHAT ESTIMATE_SECONDS CMD...
# -l: CMD's output goes to LOG (its tail is printed if it fails) instead of the terminal.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/progress.sh"
log=""
while getopts "t:l:" opt; do
  case "$opt" in
    t) PROGRESS_TAG="$OPTARG" ;;
    l) log="$OPTARG" ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
verb="$1" what="$2" estimate="$3"
shift 3
if [[ -n "$log" ]]; then
  mkdir -p "$(dirname "$log")"
  : >"$log"
  step "$verb" "$what" "$estimate" quietly "$log" "$@"
else
  step "$verb" "$what" "$estimate" "$@"
fi
