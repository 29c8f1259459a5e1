import { appendFileSync } from 'node:fs';

type Resolve = (specifier: string, context: unknown) => Promise<{ url: string }>;

/** Module customization hook (runs on the loader thread): logs each resolved URL. */
export async function resolve(specifier: string, context: unknown, next: Resolve): Promise<{ url: string }> {
  const result = await next(specifier, context);
  if (process.env.KH_IMPORT_LOG) appendFileSync(process.env.KH_IMPORT_LOG, `${result.url}\n`);
  return result;
}
