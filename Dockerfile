# kube-harden: the node-hardening agent image.
#   BASE_IMAGE   runtime and build base with Node.js >= 20.19 (default: the official Node 22 slim image)
#   PLUGIN_FROM  source (default): build the CNI bandwidth plugin statically from Debian's source package
#                context: take a static build from build/cni/bandwidth (scripts/build-bandwidth.sh output)
ARG BASE_IMAGE=docker.io/library/node:22-bookworm-slim
ARG PLUGIN_BUILDER=docker.io/library/debian:bookworm
ARG PLUGIN_FROM=source

FROM ${PLUGIN_BUILDER} AS plugin-source
COPY scripts/build-bandwidth.sh /build-bandwidth.sh
RUN bash /build-bandwidth.sh /out

FROM ${BASE_IMAGE} AS plugin-context
COPY build/cni/bandwidth /out/bandwidth

FROM plugin-${PLUGIN_FROM} AS plugin

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY agent ./agent
COPY scripts ./scripts
# Type-check and bundle (npm run build): the image runs one ESM entry with its chunks, no node_modules.
RUN npx tsc -p tsconfig.json && node dist/scripts/bundle.js

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="kube-harden" \
      org.opencontainers.image.description="Node-level Kubernetes hardening agent: audits, remediates and keeps kubelet, control-plane and CNI settings hardened" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/kube-harden/kube-harden"
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/dist/bundle ./dist/bundle
COPY --from=plugin /out/bandwidth /usr/lib/kube-harden/cni/bandwidth
# The plugin runs on every host: a dynamically linked one would fail on older glibc. nsenter (util-linux)
# reaches the host's systemd. No package managers or build tools stay in the runtime image.
RUN chmod 0755 /usr/lib/kube-harden/cni/bandwidth \
 && if ldd /usr/lib/kube-harden/cni/bandwidth >/dev/null 2>&1; then echo "refusing a dynamically linked bandwidth plugin" >&2; exit 1; fi \
 && CNI_COMMAND=VERSION /usr/lib/kube-harden/cni/bandwidth </dev/null | grep -q cniVersion \
 && nsenter --version >/dev/null \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && ln -s /app/dist/bundle/kube-harden.mjs /usr/local/bin/kube-harden && chmod 0755 /app/dist/bundle/kube-harden.mjs \
 && mkdir -p /var/lib/kube-harden/compile-cache
# Node 22.1+ keeps the compiled chunks here between runs of the CLI in the container (see agent/main.ts).
ENV NODE_ENV=production KUBE_HARDEN_PLUGIN_DIR=/usr/lib/kube-harden/cni KUBE_HARDEN_COMPILE_CACHE=/var/lib/kube-harden/compile-cache
# A 1 MiB young generation: idle RSS 74 -> 59 MiB for a few more (sub-millisecond) scavenges; see
# docs/performance.md for the numbers.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--no-opt", "/app/dist/bundle/kube-harden.mjs"]
CMD ["run"]
