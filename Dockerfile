# syntax=docker/dockerfile:1
#
# One image, two processes: the worker and the HTTP API scale independently, so they run as
# separate containers from the same build.
#   worker: node dist/src/main/worker.js
#   API:    node dist/src/main/api.js   (the default CMD)
# `npm start` (dist/src/main/start.js) is the single-machine launcher with an embedded dev server; it is
# deliberately not usable here (scripts/ and the Temporal binaries are not in the image). Nor are the
# bench, the drills and their rigs/: developer tools, built by `npm run build`, never by the image.
#
# Pin by digest (node:20-bookworm-slim@sha256:...) for byte-for-byte reproducible builds.
ARG NODE_IMAGE=node:20-bookworm-slim

############################ build ############################
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# better-sqlite3 compiles from source when no prebuilt binary can be downloaded (no network to
# GitHub, or a Node ABI it has no prebuild for), which needs a C++ toolchain and Python for node-gyp.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# Lockfile first: the dependency layer is rebuilt only when dependencies change, not on every edit.
COPY package.json package-lock.json ./
# node-gyp would otherwise download Node headers from nodejs.org; the image already ships them.
RUN --mount=type=cache,target=/root/.npm \
    if [ -f /usr/local/include/node/node.h ]; then export npm_config_nodedir=/usr/local; fi \
 && npm ci --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json tsconfig.image.json ./
COPY src ./src
COPY activities ./activities
# Of scripts/, only the bundle builder, and the type declarations src/main/start.ts names.
COPY scripts/build-workflow-bundle.ts scripts/temporal-binaries.d.ts ./scripts/

# tsc (tsconfig.image.json: src, activities and the bundle builder) -> dist/{src,activities,scripts},
# plus dist/workflow-bundle.js: workers load the prebuilt bundle (WORKFLOW_BUNDLE_PATH below)
# instead of running webpack at every start.
RUN npm run build:image \
 && npm prune --omit=dev --no-audit --no-fund

############################ runtime ############################
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
WORKDIR /app

# Same base image as the build stage, so the compiled better-sqlite3 addon matches this glibc and
# Node ABI. Files stay root-owned: the app user can run the code but not rewrite it.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

# Config locates the project root by package.json (/app) and defaults PARLEY_DATA_DIR to /app/.data.
# Only the SQLite fallback (DATABASE_URL unset) writes there; it must be writable by the app user
# or that mode crashes on start. With DATABASE_URL set nothing is written to the container.
RUN mkdir -p /app/.data && chown node:node /app/.data

# The official image's unprivileged user (uid 1000).
USER node

# PORT defaults to 3000 in src/config.ts. HOST defaults to 127.0.0.1, which is unreachable from
# outside a container: set HOST=0.0.0.0 for the API (docker-compose.yml does).
EXPOSE 3000

# No HEALTHCHECK here: the API and the worker answer on different ports (the worker only when
# WORKER_HEALTH_PORT is set), so each service's check lives in docker-compose.yml.
CMD ["node", "dist/src/main/api.js"]
