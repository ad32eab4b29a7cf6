import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTempStore, type TempStore } from "../test-support.js";
import { adoptWatermark } from "./upstream.js";

const CONTENT = {
  mesh: "default",
  labels: {},
  spec: { ports: [{ port: 80, appProtocol: "tcp" as const }] },
  contentHash: "b".repeat(64),
  deleted: false,
  creationTime: 10,
  modificationTime: 20,
  rejection: null,
};

describe("adopting the Welcome's upstream watermark", () => {
  let t: TempStore;
  beforeEach(() => {
    t = createTempStore();
    t.store.transaction(() => {
      t.store.putOwned({ ...CONTENT, name: "a", zoneRevision: t.store.nextZoneRevision() });
      t.store.putOwned({ ...CONTENT, name: "b", zoneRevision: t.store.nextZoneRevision() });
    });
  });
  afterEach(() => t.cleanup());

  it("writes nothing when the watermark is the one stored", () => {
    t.store.transaction(() => t.store.setUpstreamAcked(1));
    const transaction = vi.spyOn(t.store, "transaction");
    expect(adoptWatermark(t.store, 1)).toBe(0);
    expect(transaction).not.toHaveBeenCalled();
    expect(t.store.upstreamAcked()).toBe(1);
  });

  it("stores a watermark that moved, back or forth, without restamping", () => {
    expect(adoptWatermark(t.store, 2)).toBe(0);
    expect(t.store.upstreamAcked()).toBe(2);
    expect(adoptWatermark(t.store, 0)).toBe(0);
    expect(t.store.upstreamAcked()).toBe(0);
    expect(t.store.ownedAbove(0, 10).map((row) => [row.name, row.zoneRevision])).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
  });

  it("restamps the outbox above a watermark this store never reached (a restored database)", () => {
    expect(adoptWatermark(t.store, 5)).toBe(2);
    expect(t.store.upstreamAcked()).toBe(5);
    expect(t.store.ownedAbove(5, 10).map((row) => [row.name, row.zoneRevision])).toEqual([
      ["a", 6],
      ["b", 7],
    ]);
  });
});
