# syntax=docker/dockerfile:1
# One image for every Mooring process: `mooring-global` (the default command), `mooring-zone` and
# `mooringctl`. See "Containers" in README.md; docker-compose.yml runs a global and zones from it.
# test/compose/compose.test.ts checks this file's HEALTHCHECK, USER, EXPOSE and bins.

# Node 20 LTS, pinned to the release the project is tested with.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- build: dependencies (better-sqlite3 compiles from source), TypeScript, then production only ----
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# node-gyp builds against the headers of the Node in this image instead of downloading them.
ENV npm_config_nodedir=/usr/local
# Manifests first: the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json ./
COPY proto/package.json proto/
COPY shared/package.json shared/
COPY global/package.json global/
COPY zone/package.json zone/
# No lifecycle scripts yet (the root `prepare` would compile sources not copied yet); then the one
# native build the runtime needs.
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.base.json ./
COPY proto/ proto/
COPY shared/ shared/
COPY global/ global/
COPY zone/ zone/
RUN npx tsc -b proto shared global zone && npm prune --omit=dev --ignore-scripts

# ---- runtime: compiled code, production dependencies, a non-root user ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production MOORING_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules node_modules/
COPY --from=build /app/proto/package.json proto/
COPY --from=build /app/proto/dist proto/dist/
COPY --from=build /app/shared/package.json shared/
COPY --from=build /app/shared/dist shared/dist/
COPY --from=build /app/global/package.json global/
COPY --from=build /app/global/bin global/bin/
COPY --from=build /app/global/dist global/dist/
COPY --from=build /app/zone/package.json zone/
COPY --from=build /app/zone/bin zone/bin/
COPY --from=build /app/zone/dist zone/dist/
# The bins on PATH, and /data owned by the runtime user (a new named volume copies its ownership).
RUN ln -s /app/global/bin/mooring-global.js /usr/local/bin/mooring-global \
 && ln -s /app/zone/bin/mooring-zone.js /usr/local/bin/mooring-zone \
 && ln -s /app/global/bin/mooringctl.js /usr/local/bin/mooringctl \
 && chmod 0755 /app/global/bin/*.js /app/zone/bin/*.js \
 && mkdir /data && chown node:node /data
# The `node` user (uid 1000) of the official image.
USER node
VOLUME /data
# global: REST 5681, gRPC 5685; zone: REST 5682, DNS 5653 over UDP and TCP.
EXPOSE 5681 5685 5682 5653/udp 5653/tcp
# Ready when /readyz answers 200 on the REST port of MOORING_HTTP_ADDR (5681 for a global, 5682 for
# a zone when unset). Plain HTTP on loopback: a global serving HTTPS (MOORING_TLS_CERT) needs its
# own healthcheck.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const a = process.env.MOORING_HTTP_ADDR || (process.env.MOORING_ZONE ? ':5682' : ':5681'); fetch('http://127.0.0.1:' + a.slice(a.lastIndexOf(':') + 1) + '/readyz').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1));"]
CMD ["mooring-global"]
