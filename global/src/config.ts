import {
  AUTH_SETTINGS,
  ConfigError,
  type ConfigOf,
  LOG_LEVELS,
  loadConfig,
  parseByteSize,
  parseDuration,
  parseListenAddress,
  parseNonEmpty,
  parseOneOf,
  parsePositiveDuration,
  parsePositiveInt,
  parseReadableFile,
} from "@mooring/shared";
import { parseCidrList } from "./vip/cidr.js";

export const GLOBAL_SETTINGS = {
  dataDir: {
    flag: "data-dir",
    env: "MOORING_DATA_DIR",
    default: "./data",
    description: "directory of the SQLite database",
    parse: parseNonEmpty,
  },
  httpAddr: {
    flag: "http-addr",
    env: "MOORING_HTTP_ADDR",
    default: ":5681",
    description: "REST API listen address (host:port, port 0 picks a free port)",
    parse: parseListenAddress,
  },
  grpcAddr: {
    flag: "grpc-addr",
    env: "MOORING_GRPC_ADDR",
    default: ":5685",
    description: "gRPC sync listen address (host:port, port 0 picks a free port)",
    parse: parseListenAddress,
  },
  vipCidrs: {
    flag: "vip-cidrs",
    env: "MOORING_VIP_CIDRS",
    default: "241.0.0.0/8",
    description: "comma-separated VIP ranges, IPv4 and/or IPv6",
    parse: parseCidrList,
  },
  vipQuarantine: {
    flag: "vip-quarantine",
    env: "MOORING_VIP_QUARANTINE",
    default: "1h",
    description: "how long a released VIP stays reserved for its identity",
    parse: parseDuration,
  },
  dbSync: {
    flag: "db-sync",
    env: "MOORING_DB_SYNC",
    default: "full",
    description: "SQLite synchronous mode: full survives power loss, normal survives process crashes",
    parse: parseOneOf(["full", "normal"] as const),
  },
  httpBodyLimit: {
    flag: "http-body-limit",
    env: "MOORING_HTTP_BODY_LIMIT",
    default: "1MiB",
    description: "largest accepted REST request body",
    parse: parseByteSize,
  },
  syncHeartbeat: {
    flag: "sync-heartbeat",
    env: "MOORING_SYNC_HEARTBEAT",
    default: "5s",
    description: "heartbeat interval on sync streams; a zone silent for 3 intervals is offline",
    parse: parseDuration,
  },
  syncMaxMessage: {
    flag: "sync-max-message",
    env: "MOORING_SYNC_MAX_MESSAGE",
    default: "4MiB",
    description: "largest gRPC message sent or accepted on a sync stream",
    parse: parseByteSize,
  },
  changelogMaxEntries: {
    flag: "changelog-max-entries",
    env: "MOORING_CHANGELOG_MAX_ENTRIES",
    default: "100000",
    description: "change-log entries kept for incremental resume; a zone further behind reconciles",
    parse: parsePositiveInt,
  },
  changelogMaxAge: {
    flag: "changelog-max-age",
    env: "MOORING_CHANGELOG_MAX_AGE",
    default: "24h",
    description: "change-log entries older than this are compacted; a zone offline longer reconciles",
    parse: parseDuration,
  },
  ...AUTH_SETTINGS,
  tlsCert: {
    flag: "tls-cert",
    env: "MOORING_TLS_CERT",
    default: "",
    description: "PEM certificate chain: serve REST (HTTPS) and gRPC sync over TLS; needs MOORING_TLS_KEY",
    parse: parseReadableFile,
  },
  tlsKey: {
    flag: "tls-key",
    env: "MOORING_TLS_KEY",
    default: "",
    description: "PEM private key of MOORING_TLS_CERT",
    parse: parseReadableFile,
  },
  syncClientCa: {
    flag: "sync-client-ca",
    env: "MOORING_SYNC_CLIENT_CA",
    default: "",
    description:
      "PEM CA bundle: zones must present a client certificate it signed (mutual TLS); needs MOORING_TLS_CERT",
    parse: parseReadableFile,
  },
  zoneMaxServices: {
    flag: "zone-max-services",
    env: "MOORING_ZONE_MAX_SERVICES",
    default: "10000",
    description: "services one zone may own; further creates from that zone are rejected",
    parse: parsePositiveInt,
  },
  syncReconnectBurst: {
    flag: "sync-reconnect-burst",
    env: "MOORING_SYNC_RECONNECT_BURST",
    default: "30",
    description: "sync sessions a zone may open back to back before it is rate limited",
    parse: parsePositiveInt,
  },
  syncReconnectInterval: {
    flag: "sync-reconnect-interval",
    env: "MOORING_SYNC_RECONNECT_INTERVAL",
    default: "2s",
    description: "once rate limited, a zone regains one session attempt per interval",
    parse: parsePositiveDuration,
  },
  logLevel: {
    flag: "log-level",
    env: "MOORING_LOG_LEVEL",
    default: "info",
    description: "log level",
    parse: parseOneOf(LOG_LEVELS),
  },
};

export type GlobalConfig = ConfigOf<typeof GLOBAL_SETTINGS>;

export function loadGlobalConfig(argv: readonly string[], env: NodeJS.ProcessEnv, version: string): GlobalConfig {
  const config = loadConfig(GLOBAL_SETTINGS, { program: "mooring-global", version, argv, env });
  const { httpAddr, grpcAddr } = config;
  if (httpAddr.port !== 0 && httpAddr.port === grpcAddr.port && httpAddr.host === grpcAddr.host) {
    throw new ConfigError(
      `MOORING_HTTP_ADDR and MOORING_GRPC_ADDR are both ${httpAddr.host}:${httpAddr.port}; they must differ`,
    );
  }
  if (config.syncHeartbeat < 50) {
    throw new ConfigError("MOORING_SYNC_HEARTBEAT must be at least 50ms");
  }
  // Any service the REST API accepts must fit one sync message, with room for its VIPs.
  if (config.syncMaxMessage < config.httpBodyLimit + 16 * 1024) {
    throw new ConfigError(
      `MOORING_SYNC_MAX_MESSAGE (${config.syncMaxMessage} bytes) must exceed MOORING_HTTP_BODY_LIMIT (${config.httpBodyLimit} bytes) by at least 16KiB, so every accepted service fits one sync message`,
    );
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ConfigError("MOORING_TLS_CERT and MOORING_TLS_KEY go together: set both or neither");
  }
  if (config.syncClientCa !== undefined && config.tlsCert === undefined) {
    throw new ConfigError("MOORING_SYNC_CLIENT_CA (mutual TLS) needs MOORING_TLS_CERT and MOORING_TLS_KEY");
  }
  return config;
}
