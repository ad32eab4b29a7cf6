// What the zone shows the global: a channel that is plain or TLS (verifying the global against
// MOORING_GLOBAL_CA, presenting a client certificate for mutual TLS), and the zone token for Hello.
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import type { ZoneConfig } from "../config.js";

export type ZoneCredentialSettings = Pick<
  ZoneConfig,
  "zoneToken" | "zoneTokenFile" | "globalCa" | "globalServerName" | "tlsCert" | "tlsKey"
>;

export interface ChannelSecurity {
  readonly credentials: grpc.ChannelCredentials;
  /** Channel options: the name to verify in the global's certificate, when it differs from the host. */
  readonly options: grpc.ChannelOptions;
  readonly tls: "off" | "server" | "mutual";
}

/** Reads the CA and client certificate once, at start: a missing file is a start-up error. */
export function channelSecurity(config: Partial<ZoneCredentialSettings>): ChannelSecurity {
  if (!config.globalCa) return { credentials: grpc.credentials.createInsecure(), options: {}, tls: "off" };
  const ca = readFileSync(config.globalCa);
  const mutual = config.tlsCert !== undefined && config.tlsKey !== undefined;
  const credentials = mutual
    ? grpc.credentials.createSsl(ca, readFileSync(config.tlsKey as string), readFileSync(config.tlsCert as string))
    : grpc.credentials.createSsl(ca);
  const options: grpc.ChannelOptions = !config.globalServerName
    ? {}
    : {
        "grpc.ssl_target_name_override": config.globalServerName,
        "grpc.default_authority": config.globalServerName,
      };
  return { credentials, options, tls: mutual ? "mutual" : "server" };
}

/**
 * The token for the next Hello. The file is read on every attempt so an operator can rotate it in
 * place; a token that cannot be read is sent empty, and the global's refusal says what is missing.
 */
export function zoneToken(config: Partial<ZoneCredentialSettings>, onError: (error: unknown) => void): string {
  if (config.zoneTokenFile === undefined) return config.zoneToken ?? "";
  try {
    return readFileSync(config.zoneTokenFile, "utf8").trim();
  } catch (error) {
    onError(error);
    return "";
  }
}
