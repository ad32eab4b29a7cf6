import {
  AUTH_SETTINGS,
  ConfigError,
  type ConfigOf,
  dnsLabelProblem,
  type ListenAddress,
  LOG_LEVELS,
  loadConfig,
  parseByteSize,
  parseListenAddress,
  parseNonEmpty,
  parseOneOf,
  parsePositiveDuration,
  parseReadableFile,
  type ZoneName,
} from "@mooring/shared";

/** The smallest sync message limit accepted: one large MeshService must still fit in a message. */
export const MIN_SYNC_MESSAGE = 64 * 1024;

/**
 * The zone's name. Required, but the config loader has no notion of "required", so the default is
 * empty and `loadZoneConfig` rejects an empty value with its own message.
 */
function parseZone(raw: string): string {
  if (raw === "") return "";
  const problem = dnsLabelProblem(raw);
  if (problem) throw new Error(problem);
  return raw;
}

/** Where the global's gRPC listener is: a host is required (":5685" names no peer), and port 0 cannot be dialled. */
export function parseDialAddress(raw: string): ListenAddress {
  if (/^\s*:/.test(raw)) throw new Error("expected host:port of the global's gRPC listener; the host is missing");
  const address = parseListenAddress(raw);
  if (address.port === 0) throw new Error("port 0 cannot be dialled; expected the global's gRPC port");
  return address;
}

/** The DNS listener: a listen address as for REST (UDP and TCP share its port), or `off`. */
export function parseDnsAddress(raw: string): ListenAddress | undefined {
  if (raw.trim().toLowerCase() === "off") return undefined;
  try {
    return parseListenAddress(raw);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${reason}, or off to disable DNS`);
  }
}

function parseSyncMessageSize(raw: string): number {
  const bytes = parseByteSize(raw);
  if (bytes < MIN_SYNC_MESSAGE) throw new Error(`must be at least 64KiB (${MIN_SYNC_MESSAGE} bytes)`);
  return bytes;
}

export const ZONE_SETTINGS = {
  zone: {
    flag: "zone",
    env: "MOORING_ZONE",
    default: "",
    description: "this zone's name, a DNS-1123 label (required)",
    parse: parseZone,
  },
  global: {
    flag: "global",
    env: "MOORING_GLOBAL",
    default: "127.0.0.1:5685",
    description: "the global's gRPC sync address (host:port)",
    parse: parseDialAddress,
  },
  dataDir: {
    flag: "data-dir",
    env: "MOORING_DATA_DIR",
    default: "./data",
    description: "directory of the SQLite database (zone-<name>.db)",
    parse: parseNonEmpty,
  },
  httpAddr: {
    flag: "http-addr",
    env: "MOORING_HTTP_ADDR",
    default: ":5682",
    description: "REST API listen address (host:port, port 0 picks a free port)",
    parse: parseListenAddress,
  },
  httpBodyLimit: {
    flag: "http-body-limit",
    env: "MOORING_HTTP_BODY_LIMIT",
    default: "1MiB",
    description: "largest accepted REST request body",
    parse: parseByteSize,
  },
  dbSync: {
    flag: "db-sync",
    env: "MOORING_DB_SYNC",
    default: "full",
    description: "SQLite synchronous mode: full survives power loss, normal survives process crashes",
    parse: parseOneOf(["full", "normal"] as const),
  },
  reconnectMin: {
    flag: "reconnect-min",
    env: "MOORING_RECONNECT_MIN",
    default: "100ms",
    description: "first delay before reconnecting to the global (jittered, doubled per failed attempt)",
    parse: parsePositiveDuration,
  },
  reconnectMax: {
    flag: "reconnect-max",
    env: "MOORING_RECONNECT_MAX",
    default: "10s",
    description: "longest delay between reconnect attempts",
    parse: parsePositiveDuration,
  },
  syncMaxMessage: {
    flag: "sync-max-message",
    env: "MOORING_SYNC_MAX_MESSAGE",
    default: "4MiB",
    description: "largest sync message received, and the size every sent chunk stays under",
    parse: parseSyncMessageSize,
  },
  ...AUTH_SETTINGS,
  zoneToken: {
    flag: "zone-token",
    env: "MOORING_ZONE_TOKEN",
    default: "",
    description: "the zone token the global issued (POST /zone-tokens); prefer MOORING_ZONE_TOKEN_FILE",
    parse: (raw: string) => raw.trim(),
  },
  zoneTokenFile: {
    flag: "zone-token-file",
    env: "MOORING_ZONE_TOKEN_FILE",
    default: "",
    description: "file holding the zone token, read again on every connect (so it can be rotated in place)",
    parse: parseReadableFile,
  },
  globalCa: {
    flag: "global-ca",
    env: "MOORING_GLOBAL_CA",
    default: "",
    description: "PEM CA bundle to verify the global's certificate with; set, the zone connects over TLS",
    parse: parseReadableFile,
  },
  globalServerName: {
    flag: "global-server-name",
    env: "MOORING_GLOBAL_SERVER_NAME",
    default: "",
    description: "name expected in the global's certificate, when it differs from MOORING_GLOBAL's host",
    parse: (raw: string) => raw.trim(),
  },
  tlsCert: {
    flag: "tls-cert",
    env: "MOORING_TLS_CERT",
    default: "",
    description:
      "PEM client certificate presented to the global (mutual TLS); needs MOORING_TLS_KEY and MOORING_GLOBAL_CA",
    parse: parseReadableFile,
  },
  tlsKey: {
    flag: "tls-key",
    env: "MOORING_TLS_KEY",
    default: "",
    description: "PEM private key of MOORING_TLS_CERT",
    parse: parseReadableFile,
  },
  logLevel: {
    flag: "log-level",
    env: "MOORING_LOG_LEVEL",
    default: "info",
    description: "log level",
    parse: parseOneOf(LOG_LEVELS),
  },
  dnsAddr: {
    flag: "dns-addr",
    env: "MOORING_DNS_ADDR",
    default: ":5653",
    description: "DNS listen address for *.mesh.local, UDP and TCP on one port (host:port, port 0 picks one), or off",
    parse: parseDnsAddress,
  },
};

export type ZoneConfig = Omit<ConfigOf<typeof ZONE_SETTINGS>, "zone"> & { readonly zone: ZoneName };

export function loadZoneConfig(argv: readonly string[], env: NodeJS.ProcessEnv, version: string): ZoneConfig {
  const config = loadConfig(ZONE_SETTINGS, { program: "mooring-zone", version, argv, env });
  if (config.zone === "") throw new ConfigError("MOORING_ZONE is required: the zone's name");
  if (config.reconnectMax < config.reconnectMin) {
    throw new ConfigError(
      `MOORING_RECONNECT_MAX (${config.reconnectMax}ms) must not be less than MOORING_RECONNECT_MIN (${config.reconnectMin}ms)`,
    );
  }
  if (config.zoneToken !== "" && config.zoneTokenFile !== undefined) {
    throw new ConfigError("MOORING_ZONE_TOKEN and MOORING_ZONE_TOKEN_FILE are both set; use one");
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ConfigError("MOORING_TLS_CERT and MOORING_TLS_KEY go together: set both or neither");
  }
  if (config.tlsCert !== undefined && config.globalCa === undefined) {
    throw new ConfigError("MOORING_TLS_CERT (a client certificate) needs MOORING_GLOBAL_CA: mutual TLS runs over TLS");
  }
  if (config.globalServerName !== "" && config.globalCa === undefined) {
    throw new ConfigError("MOORING_GLOBAL_SERVER_NAME needs MOORING_GLOBAL_CA: it names the certificate to verify");
  }
  // parseZone checked it is a DNS label, which is what a ZoneName is.
  return { ...config, zone: config.zone as ZoneName };
}
