/**
 * @edgespec/transplant: give a model another tokenizer without training, by Orthogonal
 * Matching Pursuit over the embeddings of the tokens both vocabularies share
 * (Goddard & Fernandes Neto 2025). Reads HF folders, GGUF files and llama2.c checkpoints;
 * writes a Hugging Face folder the models package loads.
 */
export { type Checkpoint, checkpointModel, type F32Tensor, type ReadCheckpointOptions, readCheckpoint } from "./checkpoint";
export { type LmScore, scoreTexts } from "./evaluate";
export {
  checkK,
  DEFAULT_K,
  DEFAULT_RIDGE,
  type InitializedMatrix,
  type InitializeOptions,
  initializeMatrix,
  type Matrix,
  ompProblem,
  TRANSPLANT_METHODS,
  type TransplantMethod,
} from "./initialize";
export { type TransplantOptions, type TransplantResult, transplantTokenizer } from "./transplant";
export { matchVocabularies, normalizedVocabulary, type TokenKey, type VocabularyMatch } from "./vocabulary";
export { checkpointFiles, type TransplantRecord } from "./write";
