// Decodes the Changes frames the global sends straight into the rows the zone stores, validating as
// it reads. A first sync of 10,000 services is 10,000 MeshService messages: decoding them into
// protobuf-es messages and then building rows from those allocated about 29 MB in a new zone
// process (two or three young-generation collections, and often an old-generation one, in the
// middle of the sync) for objects that were dropped a moment later.
//
// This path takes what the global produces: the encoding `WireReader` reads (every field known,
// with its wire type) and resources that pass every check of `decodeMeshService`. Anything else (an
// unknown field, a refused resource, a string with a surrogate, a frame that is not Changes)
// returns undefined, and the frame is decoded the general way: `decodeSyncResponse`, then
// `decodeMeshService`, which names every problem for the Nack. A row from here is that path's row
// exactly, key order included, since labels, spec and vips are stored and compared as JSON text;
// decode.property.test.ts holds the two ways to the same rows.
import { isIP } from "node:net";
import { type Changes, decodeSyncResponse, type SyncResponse, UNUSUAL, WireReader, wire } from "@mooring/proto";
import {
  APP_PROTOCOLS,
  type AppProtocol,
  dnsLabelProblem,
  IDENTITY_TYPES,
  labelKeyProblem,
  labelValueProblem,
  MAX_IDENTITIES,
  MAX_PORTS,
  MAX_VALUE,
  MESH_SERVICE,
  type MeshServicePort,
  type MeshServiceSpec,
} from "@mooring/shared";
import type { SyncedKey, SyncedRow } from "../store/types.js";
import { isContentHash } from "./decode.js";

const DIGITS = /^\d+$/;
const SURROGATE = /[\uD800-\uDFFF]/;
const APP_PROTOCOL_NAMES: readonly string[] = APP_PROTOCOLS;
const IDENTITY_TYPE_NAMES: readonly string[] = IDENTITY_TYPES;
type IdentityType = (typeof IDENTITY_TYPES)[number];

const VARINT = 0;
const LENGTH_DELIMITED = 2;
/** The tag of `SyncResponse.changes` (field 2, length-delimited). */
const CHANGES_TAG = (2 << 3) | LENGTH_DELIMITED;

/** A Changes message whose every resource passed validation, as the rows and keys it names. */
export interface DecodedChanges {
  readonly kind: "decoded-changes";
  readonly fromRevision: number;
  readonly toRevision: number;
  readonly last: boolean;
  readonly upserts: readonly SyncedRow[];
  readonly deletes: readonly SyncedKey[];
}

/** What the zone's sync stream yields for each frame. */
export type SyncFrame = SyncResponse | DecodedChanges;

export function isDecodedChanges(frame: SyncFrame | Changes): frame is DecodedChanges {
  return (frame as Partial<DecodedChanges>).kind === "decoded-changes";
}

/** The zone's decoder for SyncResponse frames: rows for an ordinary Changes frame, else the message. */
export function decodeSyncFrame(bytes: Buffer): SyncFrame {
  return decodeChangesRows(bytes) ?? decodeSyncResponse(bytes);
}

/** The rows of a Changes frame, or undefined when it is not one this path takes. */
export function decodeChangesRows(bytes: Buffer): DecodedChanges | undefined {
  if (bytes[0] !== CHANGES_TAG) return undefined;
  try {
    const r = new WireReader(bytes);
    r.tag(bytes.length);
    const end = r.length();
    const decoded = changes(r, end);
    return r.pos === bytes.length ? decoded : undefined;
  } catch {
    // UNUSUAL, or a frame that breaks an assumption some other way: the general path decides.
    return undefined;
  }
}

function changes(r: WireReader, end: number): DecodedChanges {
  let fromRevision = 0;
  let toRevision = 0;
  let last = false;
  const upserts: SyncedRow[] = [];
  const deletes: SyncedKey[] = [];
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case (1 << 3) | VARINT:
        fromRevision = r.safeUint64();
        break;
      case (2 << 3) | VARINT:
        toRevision = r.safeUint64();
        break;
      case (3 << 3) | LENGTH_DELIMITED:
        upserts.push(meshService(r, r.length()));
        break;
      case (4 << 3) | LENGTH_DELIMITED:
        deletes.push(resourceKey(r, r.length()));
        break;
      case (5 << 3) | VARINT:
        last = r.bool();
        break;
      default:
        throw UNUSUAL;
    }
  }
  if (r.pos !== end) throw UNUSUAL;
  return { kind: "decoded-changes", fromRevision, toRevision, last, upserts, deletes };
}

/** A valid MeshService key (`decodeKey`'s checks). */
function resourceKey(r: WireReader, end: number): SyncedKey {
  let type = "";
  let mesh = "";
  let zone = "";
  let name = "";
  while (r.pos < end) {
    const tag = r.tag(end);
    if (wire(tag) !== LENGTH_DELIMITED) throw UNUSUAL;
    switch (tag >>> 3) {
      case 1:
        type = r.string();
        break;
      case 2:
        mesh = r.string();
        break;
      case 3:
        zone = r.string();
        break;
      case 4:
        name = r.string();
        break;
      default:
        throw UNUSUAL;
    }
  }
  if (r.pos !== end) throw UNUSUAL;
  if (type !== MESH_SERVICE || dnsLabelProblem(mesh) !== undefined || dnsLabelProblem(name) !== undefined) {
    throw UNUSUAL;
  }
  if (zone !== "" && dnsLabelProblem(zone) !== undefined) throw UNUSUAL;
  return { type: MESH_SERVICE, mesh, zone, name };
}

/**
 * One map entry into `map`, its key checked as a label key first: a later entry for the same key
 * replaces the value in place, as protobuf does, and a key such as `__proto__` never reaches the
 * object. Values are checked by the caller once the map is complete.
 */
function mapEntry(r: WireReader, map: Record<string, string>): void {
  r.stringPair(r.length());
  const key = r.first;
  if (labelKeyProblem(key) !== undefined) throw UNUSUAL;
  map[key] = r.second;
}

function meshService(r: WireReader, end: number): SyncedRow {
  let key: SyncedKey | undefined;
  const labels: Record<string, string> = {};
  let spec: MeshServiceSpec | undefined;
  const vips: string[] = [];
  let contentHash = "";
  let revision = 0;
  let creationTime = 0;
  let modificationTime = 0;
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case (1 << 3) | LENGTH_DELIMITED:
        // A second key or spec would be merged into the first: not this path's business.
        if (key !== undefined) throw UNUSUAL;
        key = resourceKey(r, r.length());
        break;
      case (2 << 3) | LENGTH_DELIMITED:
        mapEntry(r, labels);
        break;
      case (3 << 3) | LENGTH_DELIMITED:
        if (spec !== undefined) throw UNUSUAL;
        spec = specOf(r, r.length());
        break;
      case (4 << 3) | LENGTH_DELIMITED:
        vips.push(vip(r, r.length()));
        break;
      case (5 << 3) | LENGTH_DELIMITED:
        contentHash = r.string();
        break;
      case (6 << 3) | VARINT:
        revision = r.safeUint64();
        break;
      case (7 << 3) | VARINT:
        creationTime = r.safeUint64();
        break;
      case (8 << 3) | VARINT:
        modificationTime = r.safeUint64();
        break;
      default:
        throw UNUSUAL;
    }
  }
  if (r.pos !== end || key === undefined || spec === undefined || !isContentHash(contentHash)) throw UNUSUAL;
  for (const name in labels) {
    if (labelValueProblem(labels[name] as string) !== undefined) throw UNUSUAL;
  }
  return {
    type: MESH_SERVICE,
    mesh: key.mesh,
    zone: key.zone,
    name: key.name,
    labels,
    spec,
    vips,
    contentHash,
    revision,
    creationTime,
    modificationTime,
  };
}

/** A spec in the row's shape: `{ ports, selector?, identities? }`, whatever order the wire had. */
function specOf(r: WireReader, end: number): MeshServiceSpec {
  const ports: MeshServicePort[] = [];
  let selector: MeshServiceSpec["selector"];
  let selectorSeen = false;
  let identities: { type: IdentityType; value: string }[] | undefined;
  while (r.pos < end) {
    const tag = r.tag(end);
    if (wire(tag) !== LENGTH_DELIMITED) throw UNUSUAL;
    switch (tag >>> 3) {
      case 1:
        if (selectorSeen) throw UNUSUAL;
        selectorSeen = true;
        selector = selectorOf(r, r.length());
        break;
      case 2:
        ports.push(port(r, r.length()));
        break;
      case 3:
        identities ??= [];
        identities.push(identity(r, r.length()));
        if (identities.length > MAX_IDENTITIES) throw UNUSUAL;
        break;
      default:
        throw UNUSUAL;
    }
  }
  if (r.pos !== end || ports.length < 1 || ports.length > MAX_PORTS) throw UNUSUAL;
  for (let i = 0; i < ports.length; i++) {
    const current = ports[i] as MeshServicePort;
    // Names are optional for a lone port only; numbers and names are unique.
    if (current.name === undefined && ports.length > 1) throw UNUSUAL;
    for (let j = 0; j < i; j++) {
      const earlier = ports[j] as MeshServicePort;
      if (earlier.port === current.port || earlier.name === current.name) throw UNUSUAL;
    }
  }
  const spec: MeshServiceSpec = { ports };
  if (selector !== undefined) spec.selector = selector;
  if (identities !== undefined) spec.identities = identities;
  return spec;
}

/** A selector in the row's shape, or undefined for an empty one (dropped, as empty collections are). */
function selectorOf(r: WireReader, end: number): MeshServiceSpec["selector"] {
  let tags: Record<string, string> | undefined;
  let ref = "";
  while (r.pos < end) {
    const tag = r.tag(end);
    if (wire(tag) !== LENGTH_DELIMITED) throw UNUSUAL;
    if (tag >>> 3 === 1) {
      tags ??= {};
      mapEntry(r, tags);
    } else if (tag >>> 3 === 2) {
      ref = r.string();
    } else {
      throw UNUSUAL;
    }
  }
  if (r.pos !== end) throw UNUSUAL;
  if (ref !== "" && dnsLabelProblem(ref) !== undefined) throw UNUSUAL;
  // Tag values are free text: any surrogate goes the general way.
  for (const name in tags) {
    const value = tags[name] as string;
    if (value === "" || value.length > MAX_VALUE || SURROGATE.test(value)) throw UNUSUAL;
  }
  if (tags === undefined && ref === "") return undefined;
  const selector: NonNullable<MeshServiceSpec["selector"]> = {};
  if (tags !== undefined) selector.dataplaneTags = tags;
  if (ref !== "") selector.dataplaneRef = { name: ref };
  return selector;
}

/** `{ port, appProtocol, name?, targetPort? }`, checked except for what depends on the other ports. */
function port(r: WireReader, end: number): MeshServicePort {
  let name = "";
  let number = 0;
  let targetPort = "";
  let appProtocol = "";
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case (1 << 3) | LENGTH_DELIMITED:
        name = r.string();
        break;
      case (2 << 3) | VARINT:
        number = r.uint32();
        break;
      case (3 << 3) | LENGTH_DELIMITED:
        targetPort = r.string();
        break;
      case (4 << 3) | LENGTH_DELIMITED:
        appProtocol = r.string();
        break;
      default:
        throw UNUSUAL;
    }
  }
  if (r.pos !== end || number < 1 || number > 65535) throw UNUSUAL;
  const protocol = appProtocol === "" ? "tcp" : appProtocol;
  if (!APP_PROTOCOL_NAMES.includes(protocol)) throw UNUSUAL;
  const result: MeshServicePort = { port: number, appProtocol: protocol as AppProtocol };
  if (name !== "") {
    if (dnsLabelProblem(name) !== undefined) throw UNUSUAL;
    result.name = name;
  }
  if (targetPort !== "") {
    const target = targetPortOf(targetPort);
    if (target === undefined) throw UNUSUAL;
    result.targetPort = target;
  }
  return result;
}

function identity(r: WireReader, end: number): { type: IdentityType; value: string } {
  r.stringPair(end);
  const type = r.first;
  const value = r.second;
  if (!IDENTITY_TYPE_NAMES.includes(type) || value === "" || value.length > MAX_VALUE || SURROGATE.test(value)) {
    throw UNUSUAL;
  }
  return { type: type as IdentityType, value };
}

/**
 * A port's target as the row keeps it, or undefined when invalid. One string on the wire for a port
 * name or number: digits (any that pass as a DNS label, leading zeros included) are read as the
 * number, as `decodeMeshService` reads them.
 */
function targetPortOf(text: string): number | string | undefined {
  if (dnsLabelProblem(text) !== undefined) return undefined;
  if (!DIGITS.test(text)) return text;
  const target = Number(text);
  return target >= 1 && target <= 65535 ? target : undefined;
}

function vip(r: WireReader, end: number): string {
  let ip = "";
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag !== ((1 << 3) | LENGTH_DELIMITED)) throw UNUSUAL;
    ip = r.string();
  }
  if (r.pos !== end || isIP(ip) === 0) throw UNUSUAL;
  return ip;
}
