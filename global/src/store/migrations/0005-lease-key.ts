// Migration 5: a lease is stored under its address key, (family, ip_key), in a WITHOUT ROWID table.
// Before, every allocation wrote four B-trees: the rowid table and three UNIQUE indexes, two of which
// said the same thing (ip is the canonical text of family + ip_key). Now it writes two: the table,
// whose primary key is the address, and the identity's UNIQUE index. Uniqueness is still SQLite's:
// one lease per address (the primary key) and one per identity and family.
export const sql = `
CREATE TABLE vip_leases_v2 (
  ip          TEXT NOT NULL,
  ip_key      TEXT NOT NULL,
  family      INTEGER NOT NULL CHECK (family IN (4, 6)),
  mesh        TEXT NOT NULL,
  zone        TEXT NOT NULL,
  name        TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('bound', 'released', 'reserved')),
  pinned      INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
  leased_at   INTEGER NOT NULL,
  released_at INTEGER,
  PRIMARY KEY (family, ip_key),
  UNIQUE (mesh, zone, name, family)
) STRICT, WITHOUT ROWID;
INSERT INTO vip_leases_v2 (ip, ip_key, family, mesh, zone, name, state, pinned, leased_at, released_at)
  SELECT ip, ip_key, family, mesh, zone, name, state, pinned, leased_at, released_at FROM vip_leases;
DROP TABLE vip_leases;
ALTER TABLE vip_leases_v2 RENAME TO vip_leases;
CREATE INDEX vip_leases_reclaimable ON vip_leases (family, released_at, ip_key)
  WHERE state = 'released' AND pinned = 0;
`;
