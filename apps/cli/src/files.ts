/**
 * Output folders written without losing what the user had: the target must not exist or be
 * empty, the files go to a temporary sibling first and are renamed into place when all are
 * written, and a failure leaves nothing half-written.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** A bad input file or output folder: reported as a plain error (exit 1), not a usage error. */
export class InputError extends Error {
  override name = "InputError";
}

export function assertNewFolder(out: string, flag = "--out"): void {
  if (existsSync(out) && readdirSync(out).length > 0)
    throw new InputError(`${flag} ${out} exists and is not empty; choose a new folder (nothing is overwritten)`);
}

export function writeFolder(out: string, files: Iterable<[string, Uint8Array | string]>): void {
  assertNewFolder(out);
  const staging = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    for (const [name, bytes] of files) writeFileSync(join(staging, name), bytes);
    if (existsSync(out)) rmSync(out, { recursive: true }); // empty, checked above
    renameSync(staging, out);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}
