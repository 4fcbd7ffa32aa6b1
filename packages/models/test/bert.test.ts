/**
 * The BERT-family encoder against tools/reference/bert_ref.py (numpy, float64): the three
 * random checkpoints of tools/reference/bert_fixtures.json (BertForMaskedLM with "bert."
 * names, BertModel with sentence-transformers names and a pooler, DistilBertForMaskedLM),
 * on both backends; the real bert-base-uncased tokenizer against the golden ids; q8_0
 * weights; and the errors for configs, checkpoints and inputs we refuse.
 */
import { mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Backend, createBackend, OutOfRangeError } from "@edgespec/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BertModel } from "../src/bert/bert";
import { type BertConfig, bertConfigFromHf } from "../src/bert/config";
import { ModelFormatError, UnsupportedModelError } from "../src/errors";
import { readSafetensors } from "../src/formats/safetensors";
import { MapTensorStore, type StoredTensor, type TensorStore } from "../src/formats/stored";
import { loadEncoder } from "../src/load-encoder";
import { LocalModelSource } from "../src/sources/node";
import { HfTokenizer } from "../src/tokenizers/index";
import { type WeightDType, weightsFromStore } from "../src/weights";
import { BERT_GOLDEN_DIR, bertGoldenStem, writeBertFixture } from "./fixtures/bert";
import { relErr } from "./golden";
import { sharedDir } from "./shared";

/** max |a - b| <= TOL * max |golden| for every output (the goldens are float64 forwards). */
const TOL = 1e-4;
/** q8_0 weights (embeddings included): max |a - b| / max |golden| below 5e-2 (we see ~1.6e-2). */
const Q8_TOL = 5e-2;

const FIXTURES = ["bert-mlm", "bert-base", "distilbert-mlm"] as const;

interface GoldenOutput {
  offset: number;
  shape: number[];
  top5?: number[][];
}

interface GoldenText {
  text: string;
  ids: number[];
  token_type_ids: number[];
  positions?: number[];
  outputs: Record<"last_hidden_state" | "pooler_output" | "mlm_logits", GoldenOutput | undefined>;
}

interface BertGolden {
  architecture: string;
  config: Record<string, unknown>;
  safetensors: { bytes: number };
  texts: GoldenText[];
  floats: Float32Array;
}

async function readBertGolden(fixture: string): Promise<BertGolden> {
  const stem = join(BERT_GOLDEN_DIR, bertGoldenStem(fixture));
  const meta = JSON.parse(await readFile(`${stem}.json`, "utf8"));
  const raw = await readFile(`${stem}.f32`);
  return { ...meta, floats: new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)) };
}

function goldenValues(g: BertGolden, o: GoldenOutput): Float32Array {
  return g.floats.subarray(o.offset, o.offset + o.shape.reduce((a, b) => a * b, 1));
}

function fmt(worst: Record<string, number>): string {
  return Object.entries(worst)
    .map(([k, v]) => `${k} ${v.toExponential(2)}`)
    .join(", ");
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

let tmp: string;
const goldens = new Map<string, BertGolden>();
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "edgespec-bert-"));
  for (const name of FIXTURES) {
    await writeBertFixture(name, join(tmp, name));
    goldens.set(name, await readBertGolden(name));
  }
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function readCheckpoint(name: string): Promise<{ config: BertConfig; store: TensorStore; configJson: Record<string, unknown>; bytes: number }> {
  const dir = join(tmp, name);
  const configJson = JSON.parse(await readFile(join(dir, "config.json"), "utf8"));
  const bytes = new Uint8Array(await readFile(join(dir, "model.safetensors")));
  const { store } = readSafetensors(`${name}/model.safetensors`, bytes);
  return { config: bertConfigFromHf(`${name}/config.json`, configJson), store, configJson, bytes: bytes.length };
}

async function loadFixture(name: string, backend: Backend, dtype?: WeightDType): Promise<BertModel> {
  const { config, store } = await readCheckpoint(name);
  return new BertModel(backend, config, weightsFromStore(backend, store, dtype));
}

/** Every golden output of one model; returns the worst relative error per output name. */
function compare(model: BertModel, g: BertGolden): Record<string, number> {
  const worst: Record<string, number> = {};
  const note = (name: string, err: number) => {
    worst[name] = Math.max(worst[name] ?? 0, err);
  };
  for (const t of g.texts) {
    const out = model.encode(t.ids, t.token_type_ids);
    expect(out.n).toBe(t.ids.length);
    expect(out.hidden).toBe(model.config.hiddenSize);
    const lhs = t.outputs.last_hidden_state as GoldenOutput;
    note("last_hidden_state", relErr(out.lastHiddenState, goldenValues(g, lhs)));
    if (t.outputs.pooler_output) {
      expect(out.pooler).toBeDefined();
      note("pooler_output", relErr(out.pooler as Float32Array, goldenValues(g, t.outputs.pooler_output)));
    } else expect(out.pooler).toBeUndefined();
    if (t.outputs.mlm_logits) {
      const logits = model.mlmLogits(t.ids, t.positions as number[]);
      note("mlm_logits", relErr(logits, goldenValues(g, t.outputs.mlm_logits)));
    }
  }
  return worst;
}

describe.each(["wasm", "reference"] as const)("BERT goldens (%s backend)", (backendName) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createBackend(backendName);
  });

  it.each(FIXTURES)("%s matches bert_ref.py within 1e-4 relative", async (name) => {
    const g = goldens.get(name) as BertGolden;
    const ckpt = await readCheckpoint(name);
    expect(ckpt.bytes).toBe(g.safetensors.bytes);
    const model = new BertModel(backend, ckpt.config, weightsFromStore(backend, ckpt.store));
    try {
      expect(model.prefix).toBe({ "bert-mlm": "bert.", "bert-base": "", "distilbert-mlm": "distilbert." }[name]);
      expect(model.config.architecture).toBe(g.architecture);
      const worst = compare(model, g);
      console.log(`[bert] ${name} on ${backendName}: worst max|a-b|/max|golden| ${fmt(worst)}`);
      const expected = name === "bert-base" ? ["last_hidden_state", "pooler_output"] : ["last_hidden_state", "mlm_logits"];
      expect(Object.keys(worst).sort()).toEqual(expected.sort());
      for (const [out, err] of Object.entries(worst)) expect(err, `${name} ${out}`).toBeLessThanOrEqual(TOL);
      // the default token types (all 0) are what the goldens used
      const t = g.texts[0];
      expect(model.encode(t.ids).lastHiddenState).toEqual(model.encode(t.ids, t.token_type_ids).lastHiddenState);
    } finally {
      model.free();
    }
  });
});

describe("BERT with q8_0 weights (wasm)", () => {
  it.each(FIXTURES)("%s stays within 5e-2 of the golden; MLM top-1 stays in the golden top 5", async (name) => {
    const backend = await createBackend("wasm");
    const g = goldens.get(name) as BertGolden;
    const model = await loadFixture(name, backend, "q8_0");
    try {
      const worst = compare(model, g);
      let top1 = 0;
      let rows = 0;
      for (const t of g.texts) {
        const mlm = t.outputs.mlm_logits;
        if (!mlm) continue;
        const logits = model.mlmLogits(t.ids, t.positions as number[]);
        const want = goldenValues(g, mlm);
        const vocab = mlm.shape[1];
        for (let j = 0; j < mlm.shape[0]; j++) {
          const got = argmax(logits.subarray(j * vocab, (j + 1) * vocab));
          expect(argmax(want.subarray(j * vocab, (j + 1) * vocab))).toBe(mlm.top5?.[j][0]);
          expect(mlm.top5?.[j]).toContain(got);
          if (got === mlm.top5?.[j][0]) top1++;
          rows++;
        }
      }
      console.log(`[bert] ${name} q8_0 on wasm: worst max|a-b|/max|golden| ${fmt(worst)}` + (rows ? `, MLM top-1 agreement ${top1}/${rows}` : ""));
      for (const [out, err] of Object.entries(worst)) expect(err, `${name} ${out}`).toBeLessThan(Q8_TOL);
    } finally {
      model.free();
    }
  });
});

describe("bert-base-uncased tokenizer", () => {
  it("gives the golden ids, [CLS] and [SEP] included", async () => {
    const dir = sharedDir("tokenizers", "bert-base-uncased");
    const json = JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8"));
    const tok = new HfTokenizer(json, JSON.parse(await readFile(join(dir, "tokenizer_config.json"), "utf8")));
    // HfTokenizer.encode adds no special tokens (the Tokenizer contract) and has no BERT pair
    // template, so the test wraps the ids itself with the ids of tokenizer.json's
    // post_processor template ("[CLS] $A [SEP]")
    const special = json.post_processor.special_tokens as Record<string, { ids: number[] }>;
    const cls = special["[CLS]"].ids;
    const sep = special["[SEP]"].ids;
    expect([...cls, ...sep]).toEqual([101, 102]);
    expect([tok.token(101), tok.token(102)]).toEqual(["[CLS]", "[SEP]"]);
    for (const name of FIXTURES) {
      for (const t of (goldens.get(name) as BertGolden).texts) {
        expect([...cls, ...tok.encode(t.text), ...sep], t.text).toEqual(t.ids);
      }
    }
  });
});

describe("BERT config and input errors", () => {
  it("refuses unsupported settings by name", async () => {
    const { configJson } = await readCheckpoint("bert-mlm");
    const { configJson: distil } = await readCheckpoint("distilbert-mlm");
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...configJson, position_embedding_type: "relative_key" }, /position_embedding_type "relative_key" is not supported/],
      [{ ...configJson, hidden_act: "relu" }, /hidden_act "relu" is not supported/],
      [{ ...configJson, is_decoder: true }, /is_decoder/],
      [{ ...configJson, num_attention_heads: 5 }, /not a multiple of the 5 attention heads/],
      [{ ...configJson, model_type: "roberta", architectures: ["RobertaModel"] }, /model_type "roberta" is not supported/],
      [{ ...distil, sinusoidal_pos_embds: true }, /sinusoidal_pos_embds/],
      [{ ...distil, activation: "relu" }, /activation "relu" is not supported/],
    ];
    for (const [cfg, msg] of bad) {
      expect(() => bertConfigFromHf("x/config.json", cfg)).toThrow(UnsupportedModelError);
      expect(() => bertConfigFromHf("x/config.json", cfg)).toThrow(msg);
    }
    expect(bertConfigFromHf("x/config.json", { ...configJson, hidden_act: "gelu_new" }).hiddenAct).toBe("gelu_tanh");
  });

  it("names a missing tensor", async () => {
    const backend = await createBackend("wasm");
    const drop = async (name: string, missing: string) => {
      const { config, store } = await readCheckpoint(name);
      const kept = new Map<string, StoredTensor>(
        store
          .names()
          .filter((n) => n !== missing)
          .map((n) => [n, store.get(n)]),
      );
      return () => new BertModel(backend, config, weightsFromStore(backend, new MapTensorStore(store.label, kept)));
    };
    for (const [name, missing] of [
      ["bert-mlm", "bert.encoder.layer.1.attention.self.key.bias"],
      ["bert-mlm", "cls.predictions.bias"],
      ["bert-base", "encoder.layer.0.output.LayerNorm.weight"],
      ["distilbert-mlm", "distilbert.transformer.layer.1.ffn.lin2.weight"],
      ["distilbert-mlm", "vocab_transform.weight"],
    ]) {
      const load = await drop(name, missing);
      expect(load).toThrow(ModelFormatError);
      expect(load).toThrow(`tensor "${missing}": is missing`);
    }
    // no word embeddings under any prefix
    const load = await drop("bert-base", "embeddings.word_embeddings.weight");
    expect(load).toThrow(/embeddings\.word_embeddings\.weight.*bert\.embeddings\.word_embeddings\.weight/);
  });

  it("reads LayerNorm parameters named gamma / beta (old checkpoints)", async () => {
    const backend = await createBackend("wasm");
    const { config, store } = await readCheckpoint("bert-mlm");
    const renamed = new Map<string, StoredTensor>();
    for (const n of store.names()) renamed.set(n.replace(/LayerNorm\.weight$/, "LayerNorm.gamma").replace(/LayerNorm\.bias$/, "LayerNorm.beta"), store.get(n));
    expect([...renamed.keys()]).toContain("bert.encoder.layer.0.output.LayerNorm.gamma");
    const a = new BertModel(backend, config, weightsFromStore(backend, store));
    const b = new BertModel(backend, config, weightsFromStore(backend, new MapTensorStore(store.label, renamed)));
    try {
      const ids = (goldens.get("bert-mlm") as BertGolden).texts[0].ids;
      expect(b.encode(ids).lastHiddenState).toEqual(a.encode(ids).lastHiddenState);
      expect(b.mlmLogits(ids, [1])).toEqual(a.mlmLogits(ids, [1]));
    } finally {
      a.free();
      b.free();
    }
  });

  it("refuses bad inputs with clear errors", async () => {
    const backend = await createBackend("wasm");
    const model = await loadFixture("bert-mlm", backend);
    const distil = await loadFixture("distilbert-mlm", backend);
    try {
      const max = model.config.maxPositions;
      const long = new Array<number>(max + 1).fill(1000);
      expect(() => model.encode(long)).toThrow(OutOfRangeError);
      expect(() => model.encode(long)).toThrow(`the input has ${max + 1} tokens, more than max_position_embeddings (${max})`);
      expect(model.encode(long.slice(0, max)).n).toBe(max);
      expect(() => model.encode([])).toThrow(/empty/);
      expect(() => model.encode([101, 30522, 102])).toThrow("token id 30522 at index 1 is outside the vocabulary [0, 30522)");
      expect(() => model.encode([101, -1, 102])).toThrow(/token id -1 at index 1/);
      expect(() => model.encode([101, 102], [0, 2])).toThrow("token type id 2 at index 1 is outside [0, 2)");
      expect(() => model.encode([101, 102], [0])).toThrow(/1 token type ids for 2 tokens/);
      expect(() => model.mlmLogits([101, 103, 102], [3])).toThrow(/position 3 .* outside the 3 input tokens/);
      expect(model.mlmLogits([101, 103, 102], [])).toHaveLength(0);
      expect(() => distil.encode([101, 102], [0, 1])).toThrow(/distilbert has no token type embeddings/);
      // token types change BERT's output
      const a = model.encode([101, 2023, 102, 2008, 102], [0, 0, 0, 1, 1]).lastHiddenState;
      const b = model.encode([101, 2023, 102, 2008, 102]).lastHiddenState;
      expect(a).not.toEqual(b);
    } finally {
      model.free();
      distil.free();
    }
    expect(() => model.encode([101, 102])).toThrow(/freed/);
    const base = await loadFixture("bert-base", backend);
    try {
      expect(() => base.mlmLogits([101, 102], [0])).toThrow(/has no masked-LM head/);
    } finally {
      base.free();
    }
  });
});

describe("loadEncoder (a Hugging Face folder with the real bert-base-uncased tokenizer)", () => {
  it.each(FIXTURES)("%s: text in, the reference's ids and hidden states out", async (name) => {
    const dir = join(tmp, name);
    // the tokenizer files stay in the shared folder: link them beside the generated weights
    for (const f of ["tokenizer.json", "tokenizer_config.json"]) await symlink(sharedDir("tokenizers/bert-base-uncased", f), join(dir, f)).catch(() => {});
    const enc = await loadEncoder(await LocalModelSource.fromPath(dir));
    const g = goldens.get(name) as BertGolden;
    for (const t of g.texts) {
      const ids = enc.encodeText(t.text);
      expect(ids).toEqual(t.ids);
      const out = enc.model.encode(ids);
      expect(relErr(out.lastHiddenState, goldenValues(g, t.outputs.last_hidden_state as GoldenOutput))).toBeLessThan(1e-4);
    }
    enc.model.free();
  });
});
