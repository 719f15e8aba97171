#!/usr/bin/env bash
# Build the binaries of a real Kubernetes control plane for tests and the demo, once, into a cache
# outside the repository: kube-apiserver, kube-controller-manager, kube-scheduler (k8s.io/kubernetes),
# etcd 3.6 (go.etcd.io/etcd/server/v3) and kwok. Idempotent: a finished build is reused.
#
#   AIOPSD_CACHE   cache root (default ~/.cache/aiopsd)
#   K8S_VERSION    default v1.36.3    ETCD_VERSION default v3.6.16    KWOK_VERSION default v0.8.0
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
CACHE=${AIOPSD_CACHE:-$HOME/.cache/aiopsd}
OUT="$CACHE/cluster/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
BIN="$OUT/bin"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

log() { printf '[build-cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -f "$OUT/.complete" ]]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { log "go is not installed: the control plane is built from Go modules"; exit 1; }
mkdir -p "$BIN" "$OUT/src"

build_kubernetes() {
  local src="$OUT/src/kubernetes" minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local staging="v0.${K8S_VERSION#v1.}"
  mkdir -p "$src"
  log "resolving k8s.io/kubernetes@$K8S_VERSION"
  local gomod
  gomod=$(cd "$src" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module aiopsd.local/kubebuild"
    grep -E '^(go|godebug) ' "$gomod" || true
    echo "require k8s.io/kubernetes $K8S_VERSION"
    # every staging module the upstream go.mod pins at v0.0.0 must be replaced by its published tag
    grep -oE 'k8s\.io/[A-Za-z0-9._/-]+ => \./staging/src/k8s\.io/[A-Za-z0-9._/-]+' "$gomod" \
      | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
  } >"$src/go.mod"
  cat >"$src/tools.go" <<GO
//go:build tools

package kubebuild

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  (cd "$src" && go mod tidy -e >/dev/null 2>&1 || true)
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    if [[ ! -x "$BIN/$cmd" ]]; then
      log "building $cmd $K8S_VERSION (the first build takes a long while)"
      (cd "$src" && go build -p 2 -trimpath -ldflags "$ldflags" -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
      mv "$BIN/$cmd.tmp" "$BIN/$cmd"
    fi
  done
}

build_etcd() {
  [[ -x "$BIN/etcd" ]] && return
  local src="$OUT/src/etcd"
  mkdir -p "$src"
  log "building etcd $ETCD_VERSION"
  cat >"$src/go.mod" <<GOMOD
module aiopsd.local/etcdbuild
go 1.24
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  cat >"$src/tools.go" <<GO
//go:build tools

package etcdbuild

import _ "go.etcd.io/etcd/server/v3/etcdmain"
GO
  cat >"$src/main.go" <<GO
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$src" && go mod tidy >/dev/null && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" .)
  mv "$BIN/etcd.tmp" "$BIN/etcd"
}

build_kwok() {
  [[ -x "$BIN/kwok" ]] && return
  log "building kwok $KWOK_VERSION"
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
}

build_etcd
build_kwok
build_kubernetes
touch "$OUT/.complete"
log "control plane ready in $BIN"
echo "$BIN"
