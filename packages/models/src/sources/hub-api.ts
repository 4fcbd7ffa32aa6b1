/** The one hub API call sources need: the file list of a repo at a revision. */
import { ModelSourceError } from "./errors";
import { httpStatusError } from "./http-errors";
import type { HubLocation } from "./model-ref";

export interface HubRequest {
  fetch: typeof fetch;
  headers: Record<string, string>;
  signal: AbortSignal | undefined;
}

export function hubFileListUrl(location: Pick<HubLocation, "endpoint" | "repo" | "revision">): string {
  return `${location.endpoint}/api/models/${location.repo}/revision/${encodeURIComponent(location.revision)}`;
}

/** Repo files, sorted, from the hub's model-info endpoint ("siblings"). */
export async function listHubFiles(location: HubLocation, request: HubRequest): Promise<string[]> {
  const url = hubFileListUrl(location);
  const response = await request.fetch(url, { headers: { ...request.headers, accept: "application/json" }, signal: request.signal });
  if (!response.ok) {
    await response.body?.cancel();
    throw httpStatusError(response.status, response.statusText, url, { hub: true });
  }
  const info = (await response.json()) as { siblings?: { rfilename?: unknown }[] };
  if (!Array.isArray(info.siblings)) throw new ModelSourceError(`unexpected answer from ${url}: no "siblings" list`);
  return info.siblings
    .map((s) => s.rfilename)
    .filter((name): name is string => typeof name === "string")
    .sort();
}
