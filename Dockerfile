# syntax=docker/dockerfile:1
# cdc-invalidator worker image.
#   docker build -t cdc-invalidator:0.1.0 .
#   docker run --rm cdc-invalidator:0.1.0 validate /etc/cdc-invalidator/rules.yaml
# Stages: build (all dependencies, compiles TypeScript), prod-deps (runtime dependencies
# only), runtime (node:24-slim, non-root, no compiler, no dev dependencies, no tests).

# Node 24 is a maintained LTS line (Node 20 reached end of life in April 2026); CI runs the unit
# tests on the same major (scripts/setup-node-lts.sh installs it).
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first: this layer is cached until the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build

# The compiled application without tests and test servers.
FROM build AS dist
RUN rm -rf dist/libs/testing dist/test dist/bench dist/scripts \
 && find dist -name '*.spec.js' -o -name '*.spec.js.map' -o -name '*.test-helper.js' -o -name '*.test-helper.js.map' | xargs -r rm -f \
 && rm -f dist/.tsbuildinfo

FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# Cap the V8 old space: left to size itself, V8 lets garbage pile up to ~290 MB RSS while draining a
# 1M-row transaction; with this cap the same drain peaks near 170 MB at the same speed
# (test/e2e/huge-transaction.e2e.spec.ts runs the worker with the same flag).
ENV NODE_OPTIONS="--max-old-space-size=256"
WORKDIR /app
# A fixed numeric uid/gid so Kubernetes can verify runAsNonRoot (deploy/ uses 10001).
RUN groupadd --system --gid 10001 cdc \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin cdc
COPY --from=prod-deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=dist --chown=0:0 /app/dist ./dist
COPY --chown=0:0 package.json ./
# Files stay root-owned and read-only for the worker; it writes nothing (readOnlyRootFilesystem).
USER 10001:10001
# /metrics, /healthz, /readyz and the admin API.
EXPOSE 9464
ENTRYPOINT ["node", "dist/apps/worker/src/main.js"]
CMD ["run"]
