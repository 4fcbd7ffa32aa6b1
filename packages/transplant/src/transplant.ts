/**
 * Give a base model the donor's tokenizer, training-free: embed_tokens and lm_head are
 * rebuilt over the donor's vocabulary (see initialize.ts), every other weight is the base's.
 * A tied base stays tied: one rebuilt matrix serves as both.
 */
import { OmpSolver, ShapeError } from "@edgespec/runtime";
import type { Checkpoint, F32Tensor } from "./checkpoint";
import { checkK, DEFAULT_K, DEFAULT_RIDGE, type InitializedMatrix, initializeMatrix, type Matrix, type TransplantMethod } from "./initialize";
import { matchVocabularies, type VocabularyMatch } from "./vocabulary";
import type { TransplantRecord } from "./write";

export interface TransplantOptions {
  /** default "omp" */
  method?: TransplantMethod;
  /** OMP atoms per token (default 64) */
  k?: number;
  /** OMP: ridge on the final coefficients (default 1; 0 = plain least squares, see initialize.ts) */
  ridge?: number;
  /** OMP: centre the anchor rows on their means first (default true; see initialize.ts) */
  center?: boolean;
  /** randn's seed */
  seed?: number;
  /** reuse a loaded solver (default: load the packaged Rust module) */
  solver?: OmpSolver;
  /** OMP progress per matrix: rows approximated so far of `total` */
  onProgress?: (done: number, total: number, name: string) => void;
}

export interface TransplantResult {
  /** the base's weights speaking the donor's tokenizer */
  checkpoint: Checkpoint;
  match: VocabularyMatch;
  embed: InitializedMatrix;
  /** undefined when the base is tied (embed serves as lm_head) */
  lmHead?: InitializedMatrix;
  /** wall time of the approximations (OMP included) */
  seconds: number;
  /** provenance for config.json */
  record: TransplantRecord;
}

const EMBED = "model.embed_tokens.weight";
const HEAD = "lm_head.weight";

export async function transplantTokenizer(base: Checkpoint, donor: Checkpoint, opts: TransplantOptions = {}): Promise<TransplantResult> {
  const method = opts.method ?? "omp";
  const k = opts.k ?? DEFAULT_K;
  const match = matchVocabularies(base.tokenizer, donor.tokenizer);
  const baseEmbed = matrixOf(base, EMBED);
  const donorEmbed = matrixOf(donor, EMBED);
  if (method === "omp") checkK(k, match.anchors.length, donorEmbed.dim);
  const solver = method === "omp" ? (opts.solver ?? (await OmpSolver.create())) : undefined;
  const ridge = opts.ridge ?? DEFAULT_RIDGE;
  const center = opts.center ?? true;
  const init = { method, k, ridge, center, solver, seed: opts.seed, onProgress: opts.onProgress };

  const t0 = performance.now();
  const embed = initializeMatrix(baseEmbed, donorEmbed, match, { ...init, name: "embed_tokens" });
  let lmHead: InitializedMatrix | undefined;
  if (!base.config.tieWordEmbeddings) {
    // an untied base keeps two matrices; a tied donor's only matrix is its head too
    const donorHead = donor.config.tieWordEmbeddings ? donorEmbed : matrixOf(donor, HEAD);
    lmHead = initializeMatrix(matrixOf(base, HEAD), donorHead, match, { ...init, name: "lm_head" });
  }
  const seconds = (performance.now() - t0) / 1000;

  const tensors = new Map<string, F32Tensor>(base.tensors);
  tensors.set(EMBED, { shape: [embed.rows, embed.dim], data: embed.data });
  if (lmHead) tensors.set(HEAD, { shape: [lmHead.rows, lmHead.dim], data: lmHead.data });
  const record: TransplantRecord = {
    base: base.label,
    donor: donor.label,
    method,
    anchors: match.anchors.length,
    approximated: embed.approximated.length,
  };
  if (method === "omp") Object.assign(record, { k, ridge, center });
  return {
    checkpoint: {
      label: `${base.label} with the tokenizer of ${donor.label}`,
      format: base.format,
      config: {
        ...base.config,
        vocabSize: embed.rows,
        bosTokenId: donor.tokenizer.bosId,
        eosTokenIds: [...donor.tokenizer.eosIds],
      },
      hfConfig: base.hfConfig,
      tensors,
      tokenizer: donor.tokenizer,
      tokenizerFiles: donor.tokenizerFiles,
    },
    match,
    embed,
    lmHead,
    seconds,
    record,
  };
}

/** A [vocab, hidden] matrix of a checkpoint, checked against its config. */
function matrixOf(ckpt: Checkpoint, name: string): Matrix {
  const t = ckpt.tensors.get(name);
  if (!t) throw new ShapeError(`${ckpt.label} has no ${name}`);
  const [rows, dim] = t.shape;
  if (t.shape.length !== 2 || dim !== ckpt.config.hiddenSize) {
    throw new ShapeError(
      `${ckpt.label}: ${name} is [${t.shape.join(", ")}] but the model's hidden size is ${ckpt.config.hiddenSize}; the hidden sizes do not match`,
    );
  }
  if (rows < ckpt.tokenizer.vocabSize) {
    throw new ShapeError(`${ckpt.label}: ${name} has ${rows} rows but its tokenizer has ${ckpt.tokenizer.vocabSize} tokens`);
  }
  return { data: t.data, rows, dim };
}
