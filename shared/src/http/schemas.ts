// Request and response schemas, declared once: fastify validates with them and @fastify/swagger
// publishes them at /docs.

import Type, { type Static } from "typebox";
import {
  APP_PROTOCOLS,
  type AppProtocol,
  IDENTITY_TYPES,
  MAX_IDENTITIES,
  MAX_PORTS,
  MAX_VALUE,
} from "../meshservice.js";
import { DNS_LABEL_MAX, DNS_LABEL_PATTERN } from "../names.js";

/** A closed set of strings, typed as their union. */
export function OneOf<const T extends readonly string[]>(
  values: T,
  options: { default?: T[number]; description?: string } = {},
) {
  return Type.Unsafe<T[number]>({ type: "string", enum: [...values], ...options });
}

export const DnsLabel = Type.String({
  minLength: 1,
  maxLength: DNS_LABEL_MAX,
  pattern: DNS_LABEL_PATTERN,
  description: "a DNS-1123 label",
});

export const StringMap = Type.Record(Type.String(), Type.String({ maxLength: MAX_VALUE }));

export const Port = Type.Object(
  {
    name: Type.Optional(DnsLabel),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    targetPort: Type.Optional(
      Type.Unsafe<number | string>({
        type: ["integer", "string"],
        minimum: 1,
        maximum: 65535,
        minLength: 1,
        maxLength: DNS_LABEL_MAX,
        pattern: DNS_LABEL_PATTERN,
        description: "a port number (1-65535) or the name of a port on the workload",
      }),
    ),
    appProtocol: Type.Optional(OneOf(APP_PROTOCOLS, { default: "tcp" satisfies AppProtocol })),
  },
  { additionalProperties: false },
);

export const MeshServiceSpec = Type.Object(
  {
    selector: Type.Optional(
      Type.Object(
        {
          dataplaneTags: Type.Optional(StringMap),
          dataplaneRef: Type.Optional(Type.Object({ name: DnsLabel }, { additionalProperties: false })),
        },
        { additionalProperties: false },
      ),
    ),
    ports: Type.Array(Port, { minItems: 1, maxItems: MAX_PORTS }),
    identities: Type.Optional(
      Type.Array(
        Type.Object(
          {
            type: OneOf(IDENTITY_TYPES),
            value: Type.String({ minLength: 1, maxLength: MAX_VALUE }),
          },
          { additionalProperties: false },
        ),
        { maxItems: MAX_IDENTITIES },
      ),
    ),
  },
  { additionalProperties: false },
);

export const VipList = Type.Array(Type.Object({ ip: Type.String() }, { additionalProperties: false }));
export const Timestamp = Type.String({ format: "date-time" });

/** PUT body. The read-only fields are accepted so a GET result can be edited and PUT back. */
export const MeshServicePutBody = Type.Object(
  {
    type: Type.Optional(Type.Literal("MeshService")),
    mesh: Type.Optional(DnsLabel),
    name: Type.Optional(DnsLabel),
    labels: Type.Optional(StringMap),
    spec: MeshServiceSpec,
    status: Type.Optional(Type.Object({ vips: Type.Optional(VipList) }, { additionalProperties: false })),
    revision: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: Number.MAX_SAFE_INTEGER,
        description: "if given, the write applies only at this stored revision",
      }),
    ),
    contentHash: Type.Optional(Type.String()),
    creationTime: Type.Optional(Type.String()),
    modificationTime: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type MeshServicePutBody = Static<typeof MeshServicePutBody>;

export const MeshService = Type.Object({
  type: Type.Literal("MeshService"),
  mesh: Type.String(),
  zone: Type.Optional(Type.String({ description: "present for services owned by a zone" })),
  name: Type.String(),
  labels: StringMap,
  spec: MeshServiceSpec,
  status: Type.Object({ vips: VipList }),
  creationTime: Timestamp,
  modificationTime: Timestamp,
  revision: Type.Integer(),
  contentHash: Type.String(),
});
export type MeshService = Static<typeof MeshService>;

export function listOf<T extends Parameters<typeof Type.Array>[0]>(item: T) {
  return Type.Object({
    total: Type.Integer(),
    items: Type.Array(item),
    next: Type.Union([Type.String(), Type.Null()], { description: "URL of the next page, or null" }),
  });
}

export const PageQuery = Type.Object(
  {
    offset: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 }),
    size: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);
export type PageQuery = Static<typeof PageQuery>;

export const MeshParams = Type.Object({ mesh: DnsLabel });
export const MeshServiceParams = Type.Object({ mesh: DnsLabel, name: DnsLabel });
export type MeshServiceParams = Static<typeof MeshServiceParams>;

export const ErrorBody = Type.Object({
  code: Type.String(),
  message: Type.String(),
  details: Type.Array(Type.Object({ field: Type.String(), reason: Type.String() })),
});

export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => [status, ErrorBody]));
}
