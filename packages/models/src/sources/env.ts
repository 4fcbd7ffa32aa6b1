/**
 * Environment lookup that works on every host: Node and Deno expose process.env, browsers and
 * Workers without nodejs_compat have no process at all, so a missing one simply means "unset".
 */
export function readEnv(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const value = proc?.env?.[name];
  return value === undefined || value === "" ? undefined : value;
}
