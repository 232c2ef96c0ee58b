#!/bin/sh
# Writes every router configuration that deploy/ ships, from deploy/router-conf.sh:
# the compose setup's HAProxy config, an nginx equivalent for the same three gateways,
# and the Kubernetes router's ConfigMap. Run it after changing router-conf.sh; tests/api
# renders into a temporary folder and fails when the shipped files differ.
#
#   deploy/render-all.sh [OUTDIR]      (default: deploy/ itself)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out/haproxy" "$out/nginx" "$out/kubernetes"

# compose.yaml: three gateways on this host's loopback, the router on 127.0.0.1:8080.
local_nodes="gw1=127.0.0.1:8081 gw2=127.0.0.1:8082 gw3=127.0.0.1:8083"
# shellcheck disable=SC2086
"$here/router-conf.sh" haproxy $local_nodes >"$out/haproxy/haproxy.cfg"
# shellcheck disable=SC2086
"$here/router-conf.sh" nginx $local_nodes >"$out/nginx/sockgate.conf"

# Kubernetes: the StatefulSet's pods by their names in the headless Service (namespace
# sockgate), resolved at run time; the router listens on 8080 in its pod.
k8s_nodes=""
for i in 0 1 2; do
    k8s_nodes="$k8s_nodes sockgate-$i=sockgate-$i.sockgate.sockgate.svc.cluster.local:8080"
done
{
    cat <<'YAML'
# The router's configuration (written by deploy/render-all.sh; change
# deploy/router-conf.sh, not this). One server per StatefulSet pod: with more replicas,
# add them to render-all.sh and render again.
apiVersion: v1
kind: ConfigMap
metadata:
  name: sockgate-router
  namespace: sockgate
  labels:
    app.kubernetes.io/name: sockgate
    app.kubernetes.io/component: router
data:
  haproxy.cfg: |
YAML
    # shellcheck disable=SC2086
    "$here/router-conf.sh" haproxy --listen 0.0.0.0:8080 --resolve $k8s_nodes | sed 's/^\(.\)/    \1/'
} >"$out/kubernetes/router-config.yaml"
