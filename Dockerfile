# syntax=docker/dockerfile:1
#
# Croupier container image. See docs/deploy.md.
#
# Node 20 (what the dev machines run) is past its end of life. The image runs Node 24 LTS on
# Debian 13 "trixie" (glibc 2.41): the official uWebSockets.js v20.5x binaries need glibc >= 2.38
# (their symbol table asks for GLIBC_2.38), so they load here and not on Debian 12 (glibc 2.36).
# package.json maps the name `uWebSockets.js` to a Node-20-only unofficial build; the build stage
# below re-points that one name at the npm republish of the official build, so the lock file inside
# the image differs from the repository's in that one entry (and the unofficial build's optional
# `ws`/`bufferutil`/`utf-8-validate` dependencies disappear). Nothing else is re-resolved.
#
#   docker build -t croupier .
#   docker run --rm -p 8080:8080 croupier
#   docker run --rm -p 8080:8080 -v "$PWD/models:/app/models:ro" croupier
#
# The base is pinned to an exact Node release, so a rebuild of the same commit gets the same Node.
# A release pipeline pins the digest as well (docs/deploy.md, "Pinning the base"):
#   --build-arg NODE_IMAGE=node:24.11.1-trixie-slim@sha256:<digest>
# and stamps the OCI labels with --build-arg VERSION=… REVISION=$(git rev-parse HEAD) CREATED=….

ARG NODE_IMAGE=node:24.11.1-trixie-slim

# ---------------------------------------------------------------------------------------------
# build: full dependency tree, official uWS swapped in, TypeScript compiled against its types.
FROM ${NODE_IMAGE} AS build
# The official uWebSockets.js v20.57.0 build, republished on npm; the integrity is the sha512 of
# the tarball checked when this line was written, so a re-published or tampered tarball fails the
# build instead of shipping.
ARG UWS_PACKAGE=@btc-vision/uwebsockets.js@20.57.0
ARG UWS_INTEGRITY=sha512-SuPpEjSKZ7P58L/27BXXsrGsMwLmPupfYny8oJsOmFZ4+zX7Ca97nBPtZ3ngKbfeDZzTyi7rXri74INGerhugg==
WORKDIR /src
# .npmrc keeps onnxruntime-node-install=skip: its CPU binaries ship in the package; the install
# script would otherwise try to download CUDA files.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund \
 && npm install --no-audit --no-fund --save-exact "uWebSockets.js@npm:${UWS_PACKAGE}" \
 && node -e "const e=require('./package-lock.json').packages['node_modules/uWebSockets.js']; if (e.integrity !== process.argv[1]) { console.error('uWebSockets.js: unexpected tarball', e.name, e.version, e.integrity); process.exit(1) }" "${UWS_INTEGRITY}"
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---------------------------------------------------------------------------------------------
# deps: production dependencies only, from the lock file the build stage wrote, without the native
# binaries of other platforms (scripts/prune-platforms.mjs: ONNX Runtime for darwin, win32 and the
# other CPU, uWS addons for other systems, CPUs and Node ABIs), then proven to load.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json /src/.npmrc ./
RUN --mount=type=bind,source=scripts/prune-platforms.mjs,target=/tmp/prune-platforms.mjs \
    npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && node /tmp/prune-platforms.mjs node_modules \
 && node --input-type=module -e "import uWS from 'uWebSockets.js'; import ort from 'onnxruntime-node'; const native = /\[native code\]/.test(Function.prototype.toString.call(uWS.App)); for (const f of ['App', 'us_listen_socket_close', 'us_socket_local_port']) if (typeof uWS[f] !== 'function') throw new Error('uWebSockets.js lacks ' + f); if (!native) throw new Error('uWebSockets.js did not load its native build'); if (typeof ort.InferenceSession?.create !== 'function') throw new Error('onnxruntime-node did not load'); console.log('native uWS + onnxruntime-node load on node', process.version)"

# ---------------------------------------------------------------------------------------------
# base: the Node image without npm, npx, corepack and yarn (a serving container installs nothing,
# and a package manager brings its own vulnerabilities to patch) nor Node's C headers (nothing is
# compiled here), with the app user: a fixed numeric uid/gid, so Kubernetes can check runAsNonRoot
# without a passwd lookup.
FROM ${NODE_IMAGE} AS base
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* /root/.npm /usr/local/include/node \
 && if command -v npm || command -v npx || command -v corepack || command -v yarn; then echo 'a package manager is left' >&2; exit 1; fi \
 && groupadd --gid 10001 croupier \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin croupier \
 && mkdir -p /var/lib/croupier \
 && chown 10001:10001 /var/lib/croupier

# ---------------------------------------------------------------------------------------------
# runtime: that file system as one layer, so the removed package managers are in no layer either.
FROM scratch AS runtime
COPY --from=base / /
# OCI annotations (github.com/opencontainers/image-spec, annotations.md). VERSION follows
# package.json; the release pipeline passes REVISION (the commit), CREATED (RFC 3339) and SOURCE
# (the repository URL), which a local build leaves empty rather than guessing.
ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=""
ARG CREATED=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="croupier" \
      org.opencontainers.image.description="Real-time ONNX model-serving gateway: versioned models, bandit routing, feedback, Prometheus metrics" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"

WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/dist ./dist
# The dashboard's static files (GET /ui): read at start by dist/ui/assets.js, served from memory.
COPY --from=build /src/src/ui/app ./src/ui/app
COPY bin ./bin
COPY LICENSE ./LICENSE
# The demo models, baked in; mount a volume at /app/models to serve your own. Owned by the app
# user so that a named volume Docker seeds from here is writable (`croupier push` writes into the
# models folder); in Kubernetes the root filesystem is read-only and releases go to a volume.
COPY --chown=10001:10001 models ./models

# FROM scratch starts without the base image's environment.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
    CROUPIER_HOST=0.0.0.0 \
    CROUPIER_PORT=8080 \
    CROUPIER_MODELS_DIR=/app/models \
    CROUPIER_STATE_DIR=/var/lib/croupier

USER 10001:10001
# Proves the image serves before it is published, as the app user: starts `croupier serve` on the
# native uWS build (no CROUPIER_ALLOW_SLOW_HTTP), with a throw-away state dir, waits for ready,
# scores one row, drains on SIGTERM and expects exit 0. The script is bind-mounted (BuildKit), so
# it leaves nothing in the image.
RUN --mount=type=bind,source=test/deploy/smoke.mjs,target=/tmp/smoke.mjs node /tmp/smoke.mjs

# Control state, decision journal, audit log, decision-id secret: keep it on a volume.
VOLUME ["/var/lib/croupier"]
EXPOSE 8080
STOPSIGNAL SIGTERM
# No curl in slim images: Node's fetch. 127.0.0.1 works because CROUPIER_HOST is 0.0.0.0.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.CROUPIER_PORT || 8080) + '/v2/health/live', { signal: AbortSignal.timeout(2500) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/croupier.js"]
CMD ["serve"]
