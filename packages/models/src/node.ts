/** Everything in @edgespec/models plus the Node-only parts: local files, the download cache, a terminal progress bar. */

export * from "./gguf-write-node";
export * from "./index";
export * from "./sources/node";
