#!/usr/bin/env bash
# Stop what start_api_services.sh started, by pid file, API first so nothing is cut off mid-request.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# API, worker, Jaeger (after the spans of their last requests), Temporal.
for ((i = ${#KNOWN_COMPONENTS[@]} - 1; i >= 0; i--)); do
  stop_component "${KNOWN_COMPONENTS[i]}"
done
