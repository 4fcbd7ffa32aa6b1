/** One entry point from a user's model reference to a source: local path, URL or hub repo. Node only. */
import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CachedHttpModelSource, type CachedHttpSourceOptions } from "./cached-http-source";
import { ModelSourceError } from "./errors";
import { HttpModelSource } from "./http-source";
import { LocalModelSource } from "./local-source";
import { isHttpUrl, parseRemoteModelRef, type RemoteRefOptions } from "./model-ref";

export interface ResolveOptions extends CachedHttpSourceOptions, RemoteRefOptions {
  /** false: remote files are fetched on every open and never written to disk. Default true. */
  cache?: boolean;
  /** Folder that relative local paths resolve against; default process.cwd(). */
  baseDir?: string;
}

export type ResolvedModelSource = LocalModelSource | CachedHttpModelSource | HttpModelSource;

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function localPathOf(model: string, baseDir: string): string {
  if (/^file:\/\//i.test(model)) return fileURLToPath(model);
  // shells expand "~" but config files and quoted arguments do not
  const expanded = model === "~" || model.startsWith("~/") ? join(homedir(), model.slice(1)) : model;
  return isAbsolute(expanded) ? expanded : resolve(baseDir, expanded);
}

/**
 * Resolves a model reference:
 * - an existing local file or folder (also `file://` URLs) wins, so `org/name` on disk is a path;
 * - an http(s) URL: ending in "/" or with an extension-less last segment it is a folder, else one file;
 * - `hf:org/name`, or `org/name[@revision]` that is not a local path, is a Hugging Face repo
 *   fetched from `<endpoint>/<org>/<name>/resolve/<revision>/<file>`.
 * Nothing is fetched here; sources fetch lazily.
 */
export async function resolveModelSource(model: string, opts: ResolveOptions = {}): Promise<ResolvedModelSource> {
  const explicitlyRemote = isHttpUrl(model) || /^hf:/i.test(model);
  const localPath = explicitlyRemote ? undefined : localPathOf(model, opts.baseDir ?? process.cwd());
  if (localPath !== undefined && (await exists(localPath))) return LocalModelSource.fromPath(localPath);
  if (/^file:\/\//i.test(model)) throw new ModelSourceError(`no such local path: ${localPath}`);

  const remote = parseRemoteModelRef(model, opts);
  if (!remote) {
    throw new ModelSourceError(`no such local path: ${localPath}, and ${JSON.stringify(model)} is not an http(s) URL or a Hugging Face repo id (org/name)`);
  }
  const notFoundHint =
    remote.kind === "hub" && !explicitlyRemote
      ? `${JSON.stringify(model)} was read as a Hugging Face repo id because no local path ${localPath} exists`
      : undefined;
  const sourceOptions = { ...opts, notFoundHint: opts.notFoundHint ?? notFoundHint };
  return opts.cache === false ? new HttpModelSource(remote, sourceOptions) : new CachedHttpModelSource(remote, sourceOptions);
}
