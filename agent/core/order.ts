/**
 * Orders identifiers (names, types, flags) by UTF-16 code unit, the same on every node whatever its
 * locale. Not `localeCompare`: that loads ICU's collation data, several MiB of the idle daemon's memory.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
