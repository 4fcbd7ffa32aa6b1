/**
 * @edgespec/models: load Hugging Face (safetensors), GGUF and llama2.c checkpoints, tokenize,
 * and run Llama-family and BERT models with a KV cache and tree verification. Runs on every
 * host; local files and the download cache are in "@edgespec/models/node".
 */

export {
  type BackendChoice,
  type BackendRequest,
  type ChooseOptions,
  type ChooserHooks,
  chooseBackend,
  clearBackendChoices,
  type StepShape,
  stepShape,
  timeDecodeStep,
  type WebGPULike,
} from "./backend-choice";
export { BertModel, type BertOptions, type BertOutput } from "./bert/bert";
export { type BertActivation, type BertConfig, bertConfigFromHf } from "./bert/config";
export { ModelFormatError, TokenizerError, UnsupportedModelError } from "./errors";
export { type GgufHeader, type GgufTensorInfo, type GgufValue, parseGgufHeader, readGguf, streamGguf } from "./formats/gguf";
export {
  convertHfToGguf,
  encodeBF16,
  encodeF16,
  encodeF32,
  encodeTensorData,
  GGUF_FILE_DTYPES,
  type GgufFileDType,
  type GgufLayout,
  type GgufMetadataList,
  type GgufPlannedTensor,
  type GgufProgress,
  type GgufScalarType,
  type GgufSink,
  type GgufTensorDescriptor,
  type GgufTypedValue,
  GgufWriter,
  ggufKv,
  ggufLayout,
  ggufVocabFromHfTokenizer,
  ggufVocabFromMetadata,
  ggufVocabFromTiktoken,
  type HfCheckpoint,
  hfToGgufName,
  type LlamaGgufOptions,
  type LlamaGgufPlan,
  type LlamaGgufTensor,
  llamaGgufPlan,
  MemorySink,
  permuteForInterleavedRope,
  planHfCheckpoint,
  quantizeQ4_0,
  quantizeQ8_0,
  storedFloats,
  type TensorValues,
  type TiktokenVocabOptions,
  writeLlamaGguf,
} from "./formats/gguf-write";
export { readLlama2c } from "./formats/llama2c";
export { encodeSafetensors, parseSafetensorsHeader, readSafetensors, safetensorsHeaderBytes, streamSafetensors } from "./formats/safetensors";
export { MapTensorStore, type StoredDType, type StoredTensor, type TensorStore } from "./formats/stored";
export { type LlamaConfig, llamaConfigFromGguf, llamaConfigFromHf } from "./llama/config";
export { type DeriveOptions, type ForwardResult, LlamaModel, type LlamaOptions, LlamaSequence } from "./llama/llama";
export { encoderBackend, ggufToHfName, type LoadedLlama, type LoadedModel, type LoadOptions, loadCausalLM, loadLlama } from "./load";
export { type LoadedEncoder, loadEncoder } from "./load-encoder";
export * from "./sources/index";
export { MinHeap } from "./tokenizers/heap";
export * from "./tokenizers/index";
export { StreamedWeights, storedToF32, uploadWeight, WEIGHT_DTYPES, type WeightDType, type WeightSource, weightsFromStore } from "./weights";
