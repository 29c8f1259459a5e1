/**
 * Parses of configuration text, remembered by the text itself. A dozen rules read the same kubelet
 * config and manifests, discovery reads them once per round, and the daemon re-reads an unchanged node
 * every few seconds: keyed by content, each distinct text is parsed once per process. The result is
 * the same for the same text (parsers here are pure), so a hit can never be stale. Results must be
 * immutable: callers share them.
 */
export interface ParseMemo<T> {
  /** The parse of `text`: a remembered result, or a new one (a thrown parse error is remembered too). */
  (text: string): T;
}

/** Enough for every file of a node several times over; the oldest entry goes first. */
const DEFAULT_ENTRIES = 64;

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** Wraps a pure parser so each distinct text is parsed once (bounded, least recently used evicted). */
export function memoizeParse<T>(parse: (text: string) => T, entries = DEFAULT_ENTRIES): ParseMemo<T> {
  const remembered = new Map<string, Outcome<T>>();
  return (text: string): T => {
    let outcome = remembered.get(text);
    if (outcome) {
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      remembered.delete(text);
    } else {
      try {
        outcome = { ok: true, value: parse(text) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      if (remembered.size >= entries) remembered.delete(remembered.keys().next().value as string);
    }
    remembered.set(text, outcome);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  };
}

/**
 * Freezes a parsed plain value (maps, lists, scalars) all the way down, so no reader can change a
 * shared parse. Iterative: a hostile file nested 20 000 levels deep must not overflow the stack.
 */
export function deepFreeze<T>(value: T): T {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (next === null || typeof next !== 'object' || Object.isFrozen(next)) continue;
    Object.freeze(next);
    for (const child of Object.values(next)) pending.push(child);
  }
  return value;
}
