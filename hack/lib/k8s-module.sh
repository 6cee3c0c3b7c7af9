# Sourced by hack/envtest-assets.sh and hack/node-assets.sh: both build commands of one
# k8s.io/kubernetes release the same way.
#
#   k8s_wrapper_module MODDIR   writes MODDIR/go.mod and sets K8S_LDFLAGS
#
# k8s.io/kubernetes replaces its k8s.io/* staging modules with ./staging/... paths (and requires
# them at v0.0.0), so `go install ...@version` refuses it. A throw-away wrapper module pins each
# staging module to the matching published v0.<minor>.<patch> instead. Needs GO, K8S_VERSION,
# GIT_COMMIT_PLACEHOLDER, a `module_field MODULE@VERSION FIELD` and `log`/`die`.

k8s_wrapper_module() {
  local moddir="$1" k8s_mod="k8s.io/kubernetes@v${K8S_VERSION}" gomod go_directive staging m
  local staging_version="v0.${K8S_VERSION#*.}"
  mkdir -p "$moddir"

  log "resolving $k8s_mod"
  gomod="$(module_field "$k8s_mod" GoMod)"
  [[ -n "$gomod" && -f "$gomod" ]] || die "could not download $k8s_mod"
  go_directive="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod" | head -n1)"
  # Every module that k8s.io/kubernetes replaces with a ./staging/ directory.
  staging="$(sed -n 's#^[[:space:]]*\(replace[[:space:]]\{1,\}\)\{0,1\}\(k8s\.io/[^[:space:]]*\)[[:space:]]\{1,\}=>[[:space:]]\{1,\}\./staging/.*#\2#p' "$gomod" | sort -u)"
  [[ -n "$staging" ]] || die "found no staging replace directives in $gomod"
  log "pinning $(wc -w <<<"$staging") staging modules to $staging_version"

  {
    printf 'module temporal-gateway.invalid/envtest-kubernetes\n\n'
    printf 'go %s\n\n' "${go_directive:-1.26.0}"
    printf 'require k8s.io/kubernetes v%s\n\n' "$K8S_VERSION"
    printf 'replace (\n'
    for m in $staging; do
      printf '\t%s => %s %s\n' "$m" "$m" "$staging_version"
    done
    printf ')\n'
  } >"$moddir/go.mod"

  local build_date minor pkg ldflags=()
  # buildDate = the release's publication time, so rebuilds are reproducible.
  build_date="$(sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p' "$(module_field "$k8s_mod" Info)")"
  minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldflags+=(
      "-X '$pkg.gitVersion=v${K8S_VERSION}'"
      "-X '$pkg.gitMajor=${K8S_VERSION%%.*}'"
      "-X '$pkg.gitMinor=${minor}'"
      "-X '$pkg.gitCommit=${GIT_COMMIT_PLACEHOLDER}'"
      "-X '$pkg.gitTreeState=archive'"
      "-X '$pkg.buildDate=${build_date:-1970-01-01T00:00:00Z}'"
    )
  done
  K8S_LDFLAGS="-s -w ${ldflags[*]}"
}
