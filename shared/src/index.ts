export type { HashedContent } from "./canonical.js";
export { canonicalJson, contentHash } from "./canonical.js";
export type { ConfigOf, LoadConfigOptions, Setting, Settings } from "./config.js";
export { ConfigError, ConfigHelp, exitOnConfigError, loadConfig } from "./config.js";
export type { ErrorBody, ErrorCode, FieldError, MooringErrorOptions } from "./errors.js";
export { ERROR_CODES, isMooringError, MooringError, validationError } from "./errors.js";
export type { Brand, MeshName, ResourceIdentity, ResourceKey, Revision, ZoneId, ZoneName } from "./ids.js";
export { meshName, parseResourceKey, resourceKey, revision, zoneId, zoneName } from "./ids.js";
export type { Logger, LoggerOptions } from "./logger.js";
export { createLogger, LOG_LEVELS } from "./logger.js";
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
} from "./parse.js";
