import {
  ConfigError,
  type ConfigOf,
  LOG_LEVELS,
  loadConfig,
  parseByteSize,
  parseDuration,
  parseListenAddress,
  parseNonEmpty,
  parseOneOf,
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
  return config;
}
