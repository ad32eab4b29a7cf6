import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createBackoff } from "./backoff.js";

/** n delays from the same backoff. */
function take(backoff: { next(): number }, n: number): number[] {
  return Array.from({ length: n }, () => backoff.next());
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("createBackoff", () => {
  it("doubles from 100 ms up to a 10 s cap by default, never below half the base", () => {
    const backoff = createBackoff({ random: () => 0 });
    expect(take(backoff, 9)).toEqual([50, 100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    expect(backoff.attempts).toBe(9);
  });

  it("grows by the multiplier from initialMs", () => {
    const backoff = createBackoff({ initialMs: 10, multiplier: 3, maxMs: 1000, random: () => 0.5 });
    // base 10, 30, 90, 270, 810, then capped at 1000; delay = 3/4 of the base with random() = 0.5.
    expect(take(backoff, 6)).toEqual([7.5, 22.5, 67.5, 202.5, 607.5, 750]);
  });

  it("stays at the cap when the growth overflows to Infinity", () => {
    const backoff = createBackoff({ random: () => 0 });
    take(backoff, 1100); // 2 ** 1100 is Infinity in a double
    expect(backoff.next()).toBe(5000);
    expect(backoff.attempts).toBe(1101);
  });

  it("uses Math.random when no source is given", () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    expect(createBackoff().next()).toBe(75);
  });

  it("keeps each delay within [base/2, base] for any random draw (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 30 }),
        (initialMs, capFactor, multiplier, draws) => {
          const maxMs = initialMs * capFactor;
          let index = 0;
          const backoff = createBackoff({ initialMs, maxMs, multiplier, random: () => draws[index++] ?? 0 });
          draws.forEach((_, attempt) => {
            const base = Math.min(maxMs, initialMs * multiplier ** attempt);
            const delay = backoff.next();
            expect(delay).toBeGreaterThanOrEqual(base / 2);
            // Not toBeLessThan: base/2 + (1 - 2^-53) * base/2 can round up to base itself.
            expect(delay).toBeLessThanOrEqual(base);
          });
        },
      ),
      // Found by this property: 0.5 + (1 - 2^-53) * 0.5 rounds to 1, the base itself.
      { examples: [[1, 1, 1, [1 - 2 ** -53]]] },
    );
  });

  it("starts again from initialMs after reset", () => {
    const backoff = createBackoff({ random: () => 0 });
    take(backoff, 5);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(take(backoff, 2)).toEqual([50, 100]);
    expect(backoff.attempts).toBe(2);
  });

  it("accepts maxMs equal to initialMs (a constant delay)", () => {
    expect(take(createBackoff({ initialMs: 200, maxMs: 200, random: () => 0 }), 3)).toEqual([100, 100, 100]);
  });

  it.each([
    [{ initialMs: 0 }, "backoff initialMs must be a positive finite number, got 0"],
    [{ initialMs: -5 }, "backoff initialMs must be a positive finite number, got -5"],
    [{ initialMs: Number.NaN }, "backoff initialMs must be a positive finite number, got NaN"],
    [{ maxMs: 0 }, "backoff maxMs must be a positive finite number, got 0"],
    [{ maxMs: Number.POSITIVE_INFINITY }, "backoff maxMs must be a positive finite number, got Infinity"],
    [{ multiplier: 0 }, "backoff multiplier must be a positive finite number, got 0"],
    [{ multiplier: 0.5 }, "backoff multiplier must be at least 1, got 0.5"],
    [{ initialMs: 500, maxMs: 100 }, "backoff maxMs (100) must not be less than initialMs (500)"],
    [{ initialMs: 20_000 }, "backoff maxMs (10000) must not be less than initialMs (20000)"],
  ])("rejects %o", (options, message) => {
    expect(() => createBackoff(options)).toThrow(new RangeError(message));
  });
});
