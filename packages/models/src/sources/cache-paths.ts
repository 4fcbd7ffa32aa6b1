/** Where the download cache keeps each remote file. Node only. */
import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import { readEnv } from "./env";
import type { RemoteLocation } from "./model-ref";

/** $EDGESPEC_CACHE, else $XDG_CACHE_HOME/edgespec, else ~/.cache/edgespec. */
export function defaultCacheDir(): string {
  const explicit = readEnv("EDGESPEC_CACHE");
  if (explicit) return explicit;
  return join(readEnv("XDG_CACHE_HOME") ?? join(homedir(), ".cache"), "edgespec");
}

/** A name that is safe as one path segment on every filesystem. */
function safeSegment(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");
  return cleaned === "" ? "download" : cleaned;
}

/**
 * Hub files go to `<cache>/models--org--name/<revision>/<file>` (the layout Hugging Face tools
 * use for repo folders), any other URL to `<cache>/url/<sha256(url) prefix>/<basename>`.
 * `file` must already be validated by assertRelativeFile.
 */
export function cachePathFor(cacheDir: string, remote: RemoteLocation, file: string, url: string): string {
  if (remote.kind === "hub") {
    const repoDir = `models--${remote.repo.replace("/", "--")}`;
    // "refs/pr/1" must stay one folder
    return join(cacheDir, repoDir, encodeURIComponent(remote.revision), ...file.split("/"));
  }
  const urlKey = createHash("sha256").update(url).digest("hex").slice(0, 16);
  return join(cacheDir, "url", urlKey, safeSegment(file.slice(file.lastIndexOf("/") + 1)));
}
