/**
 * Model sources, the Node-only parts: local files, the download cache and a terminal progress
 * display. The host-neutral parts are exported from ./index.
 */
export { cachePathFor, defaultCacheDir } from "./cache-paths";
export { CachedHttpModelSource, type CachedHttpSourceOptions } from "./cached-http-source";
export { type DownloadOptions, downloadFile, lockPathFor, partialPathFor } from "./download";
export { LocalModelSource } from "./local-source";
export { formatBytes, type ProgressBarOptions, type ProgressOutput, terminalProgress } from "./progress-bar";
export { type ResolvedModelSource, type ResolveOptions, resolveModelSource } from "./resolve";
