/**
 * fetch with redirects followed by hand, for server-side hosts. The hub announces an LFS file's
 * sha256 and size (X-Linked-Etag, X-Linked-Size) only on its redirect to the CDN, which an
 * automatic redirect would hide. Browsers cannot read manual redirects, so this is not for them.
 */
import { ModelSourceError } from "./errors";
import { linkedSize, sha256FromEtag } from "./http-headers";

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

export interface FollowedResponse {
  response: Response;
  /** The URL that answered last. */
  url: string;
  /** sha256 from X-Linked-Etag on any hop. */
  linkedSha256: string | undefined;
  /** Full file size from X-Linked-Size on any hop. */
  linkedSize: number | undefined;
  /** The answer came from another origin than the one asked (a CDN), whose ETag means nothing to the hub. */
  crossOrigin: boolean;
}

export interface FollowInit {
  method?: string;
  headers: Record<string, string>;
  signal: AbortSignal | undefined;
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== "authorization"));
}

export async function fetchFollowingRedirects(fetchImpl: typeof fetch, url: string, init: FollowInit): Promise<FollowedResponse> {
  let current = url;
  let headers = init.headers;
  let linkedSha256: string | undefined;
  let size: number | undefined;
  for (let hop = 0; ; hop++) {
    const response = await fetchImpl(current, { method: init.method ?? "GET", headers, signal: init.signal, redirect: "manual" });
    linkedSha256 ??= sha256FromEtag(response.headers.get("x-linked-etag"));
    size ??= linkedSize(response.headers);
    const location = response.headers.get("location");
    if (!REDIRECT_STATUSES.has(response.status) || location === null) {
      return { response, url: current, linkedSha256, linkedSize: size, crossOrigin: new URL(current).origin !== new URL(url).origin };
    }
    await response.body?.cancel();
    if (hop >= MAX_REDIRECTS) throw new ModelSourceError(`too many redirects fetching ${url}`);
    const next = new URL(location, current);
    // The token is for the hub only; the CDN it redirects to must not see it.
    if (next.origin !== new URL(current).origin) headers = withoutAuthorization(headers);
    current = next.href;
  }
}
