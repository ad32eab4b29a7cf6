// Migration 4: fewer index entries per REST create, which writes a resource, a change and a lease.
// - resources_by_revision is never read: zones resume from the change log, not from resources.
// - vip_leases_reclaimable only ever answers "released, unpinned, oldest first": as a partial index
//   it holds those rows alone, so binding a lease (the common write) no longer touches it.
// - lease_events loses AUTOINCREMENT: events are never deleted, so a plain rowid already grows
//   forever, and AUTOINCREMENT only added a sqlite_sequence write to every allocation.
export const sql = `
DROP INDEX resources_by_revision;
DROP INDEX vip_leases_reclaimable;
CREATE INDEX vip_leases_reclaimable ON vip_leases (family, released_at, ip_key)
  WHERE state = 'released' AND pinned = 0;

CREATE TABLE lease_events_v3 (
  id     INTEGER PRIMARY KEY,
  at     INTEGER NOT NULL,
  event  TEXT NOT NULL CHECK (event IN ('allocate', 'rebind', 'release', 'reclaim', 'pin', 'delete', 'adopt', 'adopt-conflict')),
  ip     TEXT NOT NULL,
  family INTEGER NOT NULL,
  mesh   TEXT NOT NULL,
  zone   TEXT NOT NULL,
  name   TEXT NOT NULL,
  reason TEXT NOT NULL
) STRICT;
INSERT INTO lease_events_v3 SELECT * FROM lease_events;
DROP TABLE lease_events;
ALTER TABLE lease_events_v3 RENAME TO lease_events;
CREATE INDEX lease_events_by_ip ON lease_events (ip, id);
`;
