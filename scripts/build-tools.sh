#!/usr/bin/env bash
# Build the deploy tools once into a cache outside the repository: helm (go install) and the
# prometheus-operator CRDs (ServiceMonitor, PrometheusRule) taken from the operator's Go module zip.
# Idempotent: a finished build is reused. Prints the tools directory.
#
#   AIOPSD_CACHE       cache root (default ~/.cache/aiopsd)
#   HELM_VERSION       default v3.19.5
#   PROM_OP_VERSION    default v0.85.0
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v3.19.5}
PROM_OP_VERSION=${PROM_OP_VERSION:-v0.85.0}
HELM_K8S_MINOR=${HELM_K8S_MINOR:-34}   # minor of the k8s.io modules helm $HELM_VERSION is built with
CACHE=${AIOPSD_CACHE:-$HOME/.cache/aiopsd}
OUT="$CACHE/tools/helm-$HELM_VERSION-promop-$PROM_OP_VERSION"
export CGO_ENABLED=0 GOTOOLCHAIN=local

log() { printf '[build-tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -f "$OUT/.complete" ]]; then
  echo "$OUT"
  exit 0
fi
command -v go >/dev/null || { log "go is not installed: helm is built from its Go module"; exit 1; }
mkdir -p "$OUT/bin" "$OUT/crds"

if [[ ! -x "$OUT/bin/helm" ]]; then
  log "building helm $HELM_VERSION (go install, a few minutes the first time)"
  # the version variables helm's own Makefile sets: without them `helm version` and the default
  # Capabilities.KubeVersion of `helm template` (checked against a chart's kubeVersion) are placeholders
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in pkg/chartutil pkg/lint/rules; do
    ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$HELM_K8S_MINOR"
  done
  GOBIN="$OUT/bin" go install -p 2 -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi

log "fetching prometheus-operator $PROM_OP_VERSION CRDs from the Go module zip"
dir=$(cd "$OUT" && go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROM_OP_VERSION" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
for crd in servicemonitors prometheusrules; do
  src="$dir/example/prometheus-operator-crd/monitoring.coreos.com_$crd.yaml"
  [[ -f "$src" ]] || { log "missing $src in the module"; exit 1; }
  cp "$src" "$OUT/crds/"
  chmod u+w "$OUT/crds/monitoring.coreos.com_$crd.yaml"
done

"$OUT/bin/helm" version --short >&2
touch "$OUT/.complete"
echo "$OUT"
