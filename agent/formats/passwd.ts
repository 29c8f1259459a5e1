/** /etc/passwd and /etc/group: name → id lookups (read-only; the agent never edits them). */

function ids(text: string, idField: number): Map<string, number> {
  const result = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    const id = Number(fields[idField]);
    if (fields[0] && Number.isInteger(id)) result.set(fields[0], id);
  }
  return result;
}

/** User name → uid. */
export function parsePasswd(text: string): Map<string, number> {
  return ids(text, 2);
}

/** Group name → gid. */
export function parseGroup(text: string): Map<string, number> {
  return ids(text, 2);
}
