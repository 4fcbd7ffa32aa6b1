/**
 * Parsing of the remote forms of a model reference: http(s) URLs and Hugging Face repo ids.
 * Local paths are not decided here, because that needs a filesystem (see resolve.ts on Node).
 */
import { readEnv } from "./env";
import { ModelSourceError } from "./errors";
import { encodeFilePath } from "./file-names";

export const DEFAULT_HF_ENDPOINT = "https://huggingface.co";

/** A Hugging Face model repo at one revision. */
export interface HubLocation {
  kind: "hub";
  /** "org/name" */
  repo: string;
  revision: string;
  /** Hub origin without a trailing slash, e.g. "https://huggingface.co". */
  endpoint: string;
  /** Set when the reference named one file of the repo (a full resolve URL). */
  entry?: string;
}

/** Files under a base URL, e.g. "https://example.com/models/tiny/". */
export interface UrlLocation {
  kind: "url";
  /** Always ends with "/"; file names resolve against it. */
  base: string;
  /** Set when the reference was the URL of one file. */
  entry?: string;
  /** That file's URL exactly as given, query string included (signed URLs need it). */
  entryUrl?: string;
}

export type RemoteLocation = HubLocation | UrlLocation;

export interface RemoteRefOptions {
  /** Hub origin; default env HF_ENDPOINT, then https://huggingface.co. */
  endpoint?: string;
  /** Revision used when the reference has no "@revision"; default "main". */
  revision?: string;
}

// The hub's own rule: word characters, "-" and "."; no "--" or ".."; at most 96 characters.
const REPO_PART = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/;
const REVISION = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;
// First path segments on the hub that are not user or org names.
const RESERVED_HUB_PATHS = new Set(["api", "datasets", "spaces", "docs", "models", "settings", "organizations"]);

export function hubEndpoint(endpoint?: string): string {
  return (endpoint ?? readEnv("HF_ENDPOINT") ?? DEFAULT_HF_ENDPOINT).replace(/\/+$/, "");
}

function isRepoPart(part: string): boolean {
  return REPO_PART.test(part) && !part.includes("--") && !part.includes("..");
}

function isRevision(revision: string): boolean {
  return REVISION.test(revision) && !revision.includes("..") && !revision.endsWith("/");
}

/** Splits "org/name" or "org/name@revision"; undefined when the text is not a repo id. */
export function parseHubRepoId(text: string): { repo: string; revision?: string } | undefined {
  const at = text.indexOf("@");
  const repo = at < 0 ? text : text.slice(0, at);
  const revision = at < 0 ? undefined : text.slice(at + 1);
  const parts = repo.split("/");
  if (parts.length !== 2 || !parts.every(isRepoPart)) return undefined;
  if (revision !== undefined && !isRevision(revision)) return undefined;
  return revision === undefined ? { repo } : { repo, revision };
}

export function isHubRepoId(text: string): boolean {
  return parseHubRepoId(text) !== undefined;
}

export function isHttpUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

/** The URL of one file of a hub repo, the way the hub's "resolve" route expects it. */
export function hubFileUrl(location: Pick<HubLocation, "endpoint" | "repo" | "revision">, file: string): string {
  // the hub expects a revision like "refs/pr/1" as one encoded path segment
  return `${location.endpoint}/${location.repo}/resolve/${encodeURIComponent(location.revision)}/${encodeFilePath(file)}`;
}

export function remoteFileUrl(location: RemoteLocation, file: string): string {
  if (location.kind === "hub") return hubFileUrl(location, file);
  if (file === location.entry && location.entryUrl) return location.entryUrl;
  return new URL(encodeFilePath(file), location.base).href;
}

export function describeLocation(location: RemoteLocation): string {
  if (location.kind === "hub") return `hf:${location.repo}@${location.revision}` + (location.entry ? `/${location.entry}` : "");
  return location.entryUrl ?? location.base;
}

/** A URL on the hub's own origin ("<endpoint>/org/name", ".../tree/rev", ".../resolve/rev/file") as a hub location. */
function hubLocationFromUrl(url: URL, endpoint: string): HubLocation | undefined {
  if (url.origin !== new URL(endpoint).origin || url.search !== "") return undefined;
  const segments = url.pathname.split("/").filter((s) => s !== "");
  const [org, name, route, revision, ...rest] = segments.map(decodeURIComponent);
  if (!org || !name || RESERVED_HUB_PATHS.has(org) || !isRepoPart(org) || !isRepoPart(name)) return undefined;
  const repo = `${org}/${name}`;
  if (segments.length === 2) return { kind: "hub", repo, revision: "main", endpoint };
  if (revision === undefined || !isRevision(revision)) return undefined;
  if (route === "tree" && rest.length === 0) return { kind: "hub", repo, revision, endpoint };
  if (route === "resolve" && rest.length > 0) return { kind: "hub", repo, revision, endpoint, entry: rest.join("/") };
  return undefined;
}

function urlLocation(text: string): UrlLocation {
  const url = new URL(text);
  const lastSegment = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
  // A trailing "/" or an extension-less last segment names a folder; anything else a file.
  if (lastSegment === "" || !lastSegment.includes(".")) {
    const base = new URL(url.href);
    base.search = "";
    base.hash = "";
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    return { kind: "url", base: base.href };
  }
  const base = new URL(".", url);
  base.search = "";
  base.hash = "";
  return { kind: "url", base: base.href, entry: decodeURIComponent(lastSegment), entryUrl: url.href };
}

/**
 * The remote location a reference names: an http(s) URL, "hf:org/name[@rev]", or a bare
 * "org/name[@rev]". Undefined when it is none of these (then it can only be a local path).
 */
export function parseRemoteModelRef(model: string, opts: RemoteRefOptions = {}): RemoteLocation | undefined {
  const endpoint = hubEndpoint(opts.endpoint);
  if (isHttpUrl(model)) return hubLocationFromUrl(new URL(model), endpoint) ?? urlLocation(model);
  const explicitHub = /^hf:(\/\/)?/i.exec(model);
  const id = parseHubRepoId(explicitHub ? model.slice(explicitHub[0].length) : model);
  if (!id) {
    if (explicitHub) throw new ModelSourceError(`invalid Hugging Face repo id in ${JSON.stringify(model)}: expected hf:org/name or hf:org/name@revision`);
    return undefined;
  }
  return { kind: "hub", repo: id.repo, revision: id.revision ?? opts.revision ?? "main", endpoint };
}
