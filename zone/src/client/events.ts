// The sync client's status events: typed, synchronous, and safe (a throwing listener is reported, not
// propagated into the reconnect loop). Tests and main assert on these, nats.js-style.
import type { SessionMode } from "../sync/mode.js";

export interface SyncEvents {
  /** An attempt starts: `attempt` counts from 1 since start or since the last session that synced. */
  connecting: { readonly attempt: number };
  /** The global answered the Hello with a Welcome. */
  connected: {
    readonly sessionId: string;
    readonly mode: SessionMode;
    readonly generation: number;
    readonly globalEpoch: string;
  };
  /** The session's first batch is applied and acknowledged: the zone is current as of `revision`. */
  synced: { readonly mode: SessionMode; readonly revision: number; readonly received: number };
  /** An attempt or session ended. `code` is the gRPC status name; `reason` says why in words. */
  disconnected: { readonly code: string; readonly reason: string };
  /** The next attempt starts after `delayMs`. */
  reconnecting: { readonly delayMs: number; readonly attempt: number };
  /** The loop ended: closed locally (`final` false) or told by the global never to return (`final` true). */
  stopped: { readonly reason: string; readonly final: boolean };
}

export type SyncEventName = keyof SyncEvents;
export type SyncEventListener<K extends SyncEventName> = (event: SyncEvents[K]) => void;

export interface SyncEventEmitter {
  /** Subscribes; returns the unsubscribe function. */
  on<K extends SyncEventName>(name: K, listener: SyncEventListener<K>): () => void;
  /** The next event of that name. */
  once<K extends SyncEventName>(name: K): Promise<SyncEvents[K]>;
}

export function createEmitter(onListenerError: (error: unknown, name: SyncEventName) => void) {
  const listeners = new Map<SyncEventName, Set<(event: never) => void>>();

  function on<K extends SyncEventName>(name: K, listener: SyncEventListener<K>): () => void {
    let set = listeners.get(name);
    if (!set) {
      set = new Set();
      listeners.set(name, set);
    }
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  return {
    on,
    once<K extends SyncEventName>(name: K): Promise<SyncEvents[K]> {
      return new Promise((resolve) => {
        const off = on(name, (event) => {
          off();
          resolve(event);
        });
      });
    },
    emit<K extends SyncEventName>(name: K, event: SyncEvents[K]): void {
      for (const listener of [...(listeners.get(name) ?? [])]) {
        try {
          (listener as SyncEventListener<K>)(event);
        } catch (error) {
          onListenerError(error, name);
        }
      }
    },
  };
}
