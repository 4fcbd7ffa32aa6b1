/**
 * Model sources, the parts that run on every host (browsers, Workers, Deno, Node): reference
 * parsing, the fetch-only HTTP source and the shared types. Local files and the download cache
 * live in ./node.
 */
import { ModelSourceError } from "./errors";
import { HttpModelSource, type HttpSourceOptions } from "./http-source";
import { parseRemoteModelRef, type RemoteRefOptions } from "./model-ref";

export { sha256Hex } from "./digest";
export { IntegrityError, ModelAccessError, ModelNotFoundError, ModelSourceError } from "./errors";
export { HttpModelSource, type HttpSourceOptions } from "./http-source";
export { hubFileListUrl, listHubFiles } from "./hub-api";
export {
  DEFAULT_HF_ENDPOINT,
  describeLocation,
  type HubLocation,
  hubEndpoint,
  hubFileUrl,
  isHttpUrl,
  isHubRepoId,
  parseHubRepoId,
  parseRemoteModelRef,
  type RemoteLocation,
  type RemoteRefOptions,
  remoteFileUrl,
  type UrlLocation,
} from "./model-ref";
export type { ModelSource, ProgressCallback, ProgressEvent, ReadOptions, SizedStream } from "./types";

export interface RemoteSourceOptions extends RemoteRefOptions, HttpSourceOptions {}

/**
 * A fetch-only source for an http(s) URL or a Hugging Face repo id ("org/name[@revision]",
 * "hf:org/name"). Hosts with a filesystem should use resolveModelSource from ./node, which also
 * takes local paths and caches downloads.
 */
export function resolveRemoteModelSource(model: string, opts: RemoteSourceOptions = {}): HttpModelSource {
  const remote = parseRemoteModelRef(model, opts);
  if (!remote) {
    const why = "is not an http(s) URL or a Hugging Face repo id (org/name); local paths need a host with a filesystem";
    throw new ModelSourceError(`${JSON.stringify(model)} ${why}`);
  }
  return new HttpModelSource(remote, opts);
}
