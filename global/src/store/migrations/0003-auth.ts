// Migration 3: issued zone tokens (for listing and revocation; the token itself is never stored),
// and an index that makes "how many services does this zone own" a lookup, not a scan.
export const sql = `
CREATE TABLE zone_tokens (
  id          TEXT PRIMARY KEY,
  zone        TEXT NOT NULL,
  issued_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  revoked_at  INTEGER
) STRICT;

CREATE INDEX zone_tokens_by_zone ON zone_tokens (zone);
CREATE INDEX resources_by_zone ON resources (zone);
`;
