export type { AdminAuth, AdminToken } from "./auth/admin-token.js";
export { ADMIN_TOKEN_FILE, adminAuthOf, loadOrCreateAdminToken } from "./auth/admin-token.js";
export { readSecretFile, writeSecretFile } from "./auth/secret-file.js";
export { AUTH_SETTINGS } from "./auth/settings.js";
export type { Backoff, BackoffOptions } from "./backoff.js";
export { createBackoff } from "./backoff.js";
export type { HashedContent } from "./canonical.js";
export { canonicalJson, contentHash } from "./canonical.js";
export type { ConfigOf, LoadConfigOptions, Setting, Settings } from "./config.js";
export { ConfigError, ConfigHelp, exitOnConfigError, loadConfig, loadConfigOrExit } from "./config.js";
export type { DiffEntry } from "./diff.js";
export { applyDiff, diffByKey } from "./diff.js";
export type { ErrorBody, ErrorCode, FieldError, MooringErrorOptions } from "./errors.js";
export { ERROR_CODES, isMooringError, MooringError, validationError } from "./errors.js";
export type { AdminAuthOptions } from "./http/admin-auth.js";
export { OPEN_PATHS, registerAdminAuth } from "./http/admin-auth.js";
export type { HttpAppOptions, HttpMetrics } from "./http/app.js";
export { createHttpApp } from "./http/app.js";
export type { MeshServiceRecord } from "./http/meshservice-json.js";
export { toMeshServiceJson } from "./http/meshservice-json.js";
export { createHttpMetrics } from "./http/metrics.js";
export { pageBody } from "./http/paging.js";
export {
  DnsLabel,
  ErrorBody as ErrorBodySchema,
  errorResponses,
  listOf,
  MeshParams,
  MeshService as MeshServiceSchema,
  MeshServiceParams,
  MeshServicePutBody,
  MeshServiceSpec as MeshServiceSpecSchema,
  OneOf,
  PageQuery,
  Port,
  StringMap,
  Timestamp,
  VipList,
} from "./http/schemas.js";
export { createValidatorCompiler, toMooringError, validationDetails } from "./http/validation.js";
export type { Brand, MeshName, ResourceIdentity, ResourceKey, Revision, ZoneId, ZoneName } from "./ids.js";
export { meshName, parseResourceKey, resourceKey, revision, zoneId, zoneName } from "./ids.js";
export type { Logger, LoggerOptions } from "./logger.js";
export { createLogger, LOG_LEVELS } from "./logger.js";
export type { Closable } from "./main.js";
export { exitOnSignals, startOrExit } from "./main.js";
export type {
  AppProtocol,
  MeshServiceInput,
  MeshServicePort,
  MeshServiceSpec,
  NormalizedMeshService,
} from "./meshservice.js";
export {
  APP_PROTOCOLS,
  IDENTITY_TYPES,
  MAX_IDENTITIES,
  MAX_PORTS,
  MAX_VALUE,
  MESH_SERVICE,
  normalizeMeshService,
  normalizeMeshServiceContent,
} from "./meshservice.js";
export { keyFromProto, keyToProto, meshServiceInputFromProto, meshServiceToProto } from "./meshservice-proto.js";
export {
  DNS_LABEL_MAX,
  DNS_LABEL_PATTERN,
  dnsLabelProblem,
  labelKeyProblem,
  labelValueProblem,
} from "./names.js";
export type { ListenAddress } from "./parse.js";
export {
  formatAddress,
  parseByteSize,
  parseDuration,
  parseListenAddress,
  parseNonEmpty,
  parseOneOf,
  parsePositiveDuration,
  parsePositiveInt,
  parseReadableFile,
} from "./parse.js";
export type { Db, Migration, OpenSqliteOptions } from "./sqlite.js";
export { openSqlite, sqliteBasics } from "./sqlite.js";
