/** The shared fixtures and the TinyStories loader: the decoding package's test helpers. */
export { loadTinyStories, repoRoot, sharedDir } from "../../decoding/test/shared";
