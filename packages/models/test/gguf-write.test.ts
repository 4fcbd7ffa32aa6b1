/**
 * Writing GGUF (src/formats/gguf-write.ts, src/gguf-write-node.ts):
 * - the writer: every metadata type and tensor offsets read back by our reader, streaming
 *   in chunks, and its refusals;
 * - the quantizers: byte for byte what the wasm backend's quantize (ggml's reference rounding)
 *   gives, and the conversion of the llama-gqa3 fixture byte for byte the file of the
 *   independent numpy writer (tools/reference/write_gguf.py);
 * - TinyStories-656K converted at F32/F16/Q8_0/Q4_0: the same weights as the safetensors loaded
 *   with that dtype (tensor bytes equal after the q/k permutation), the same logits (bit for bit
 *   at the first position, to ~3e-7 after it: see below), the same greedy text, and a GGUF
 *   tokenizer that encodes like the Hugging Face one;
 * - a Qwen2 checkpoint (no permutation, biases): bit-identical logits at every position;
 * - vocabularies: tokenizer.json -> "llama" (Mistral's and TinyStories'), tiktoken -> "gpt2"
 *   (Qwen, llama.cpp's qwen2 vectors), a copied vocab-only GGUF (StarCoder's vectors);
 * - bad inputs and outputs give clear errors.
 *
 * Why the llama logits are not bit-identical after the first position: convert_hf_to_gguf
 * permutes q/k rows so that llama.cpp's adjacent-pair RoPE equals HF's rotate-half. Every
 * weight, matmul output and rotated value is then the same number as on the safetensors path,
 * only in another order inside each head ([x0,y0,x1,y1..] vs [x0,x1..,y0,y1..]); the attention
 * kernel sums q·k in element order, so the scores differ in the last bit. With one position the
 * softmax weight is exactly 1 and q·k does not matter: those logits are identical.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Backend, createBackend, splitmix32 } from "@edgespec/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelFormatError, UnsupportedModelError } from "../src/errors";
import { type GgufValue, readGguf } from "../src/formats/gguf";
import {
  encodeF16,
  type GgufMetadataList,
  type GgufTensorDescriptor,
  GgufWriter,
  ggufKv,
  ggufLayout,
  ggufVocabFromHfTokenizer,
  ggufVocabFromMetadata,
  ggufVocabFromTiktoken,
  MemorySink,
  permuteForInterleavedRope,
  quantizeQ4_0,
  quantizeQ8_0,
  storedFloats,
} from "../src/formats/gguf-write";
import { encodeSafetensors, readSafetensors } from "../src/formats/safetensors";
import { ggufToHfName, loadCausalLM, loadLlama } from "../src/load";
import { convertHfFolderToGguf, convertHfToGguf, OutputExistsError, openHfCheckpoint } from "../src/node";
import { LocalModelSource } from "../src/sources/node";
import { BpeTokenizer, HfTokenizer, SpmTokenizer, type Tokenizer, tokenizerFromGguf } from "../src/tokenizers/index";
import { writeFixture } from "./fixtures/generate";
import { GOLDEN_DIR, relErr } from "./golden";
import { salvageGguf } from "./salvage-gguf";
import { sharedDir } from "./shared";

let tmp: string;
let backend: Backend;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "edgespec-gguf-write-"));
  backend = await createBackend("wasm");
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const json = (path: string) => JSON.parse(readFileSync(path, "utf8"));

/** A vocab-only GGUF's bytes, read back into the tokenizer our loader would build. */
function tokenizerThroughGguf(vocab: GgufMetadataList): Tokenizer {
  const { header } = readGguf("vocab.gguf", ggufLayout(vocab, []).header);
  return tokenizerFromGguf(header.metadata, "vocab.gguf");
}

function readVectors(name: string): { text: string; ids: number[] }[] {
  const dir = sharedDir("tokenizers", "llama.cpp-vocab");
  const sep = "\n__ggml_vocab_test__\n";
  const texts = readFileSync(join(dir, `ggml-vocab-${name}.gguf.inp`), "utf8")
    .slice(0, -sep.length)
    .split(sep);
  const lines = readFileSync(join(dir, `ggml-vocab-${name}.gguf.out`), "utf8")
    .slice(0, -1)
    .split("\n");
  expect(texts.length).toBe(lines.length);
  return texts.map((text, i) => ({ text, ids: lines[i].trim() === "" ? [] : lines[i].trim().split(" ").map(Number) }));
}

describe("GgufWriter", () => {
  const metadata: GgufMetadataList = [
    ["general.architecture", ggufKv.string("llama")],
    ["general.alignment", ggufKv.u32(64)],
    ["t.u8", { type: "u8", value: 255 }],
    ["t.i8", { type: "i8", value: -128 }],
    ["t.u16", { type: "u16", value: 65535 }],
    ["t.i16", { type: "i16", value: -32768 }],
    ["t.u32", ggufKv.u32(0xffffffff)],
    ["t.i32", ggufKv.i32(-5)],
    ["t.f32", ggufKv.f32(1e-6)],
    ["t.bool", ggufKv.bool(true)],
    ["t.str", ggufKv.string("héllo ▁ \u{1f999}")],
    ["t.u64", ggufKv.u64(2n ** 60n)],
    ["t.i64", { type: "i64", value: -3 }],
    ["t.f64", { type: "f64", value: Math.PI }],
    ["t.strings", ggufKv.array("string", ["a", "", "▁b"])],
    ["t.i32s", ggufKv.array("i32", [1, -2, 3])],
    ["t.f32s", ggufKv.array("f32", new Float32Array([0.5, -1]))],
    ["t.u8s", ggufKv.array("u8", new Uint8Array([1, 2, 255]))],
    ["t.bools", ggufKv.array("bool", [true, false])],
  ];
  const tensors: GgufTensorDescriptor[] = [
    { name: "a", dims: [3], type: "F32" },
    { name: "b", dims: [64, 2], type: "Q8_0" },
    { name: "c", dims: [32, 3], type: "Q4_0" },
    { name: "d", dims: [5, 1, 1, 1], type: "F16" },
  ];
  const values = {
    a: new Float32Array([1, 2, 3]),
    b: Float32Array.from({ length: 128 }, (_, i) => Math.sin(i)),
    c: Float32Array.from({ length: 96 }, (_, i) => Math.cos(i)),
    d: new Float32Array([0.1, 0.2, 0.3, 65504, -2]),
  };

  it("writes every metadata type and tensor that the reader reads back, offsets aligned", async () => {
    const sink = new MemorySink();
    const w = new GgufWriter(sink, metadata, tensors);
    for (const t of tensors) await w.writeTensor(t.name, values[t.name as keyof typeof values]);
    const size = await w.finish();
    const bytes = sink.bytes();
    expect(size).toBe(bytes.length);
    const { header, store } = readGguf("w.gguf", bytes);
    expect(header.version).toBe(3);
    expect(header.alignment).toBe(64);
    expect(header.dataStart % 64).toBe(0);
    const md = header.metadata;
    expect([md.get("t.u8"), md.get("t.i8"), md.get("t.u16"), md.get("t.i16"), md.get("t.u32"), md.get("t.i32")]).toEqual([
      255, -128, 65535, -32768, 0xffffffff, -5,
    ]);
    expect(md.get("t.f32")).toBe(Math.fround(1e-6));
    expect([md.get("t.bool"), md.get("t.str"), md.get("t.u64"), md.get("t.i64"), md.get("t.f64")]).toEqual([true, "héllo ▁ \u{1f999}", 2n ** 60n, -3, Math.PI]);
    expect(md.get("t.strings")).toEqual(["a", "", "▁b"]);
    expect([...(md.get("t.i32s") as Int32Array)]).toEqual([1, -2, 3]);
    expect([...(md.get("t.f32s") as Float32Array)]).toEqual([0.5, -1]);
    expect([...(md.get("t.u8s") as Uint8Array)]).toEqual([1, 2, 255]);
    expect(md.get("t.bools")).toEqual([true, false]);
    expect(header.tensors.map((t) => [t.name, t.dtype, t.shape, t.offset % 64])).toEqual([
      ["a", "F32", [3], 0],
      ["b", "Q8_0", [2, 64], 0],
      ["c", "Q4_0", [3, 32], 0],
      ["d", "F16", [1, 1, 1, 5], 0],
    ]);
    expect([...storedFloats(store.get("a"))]).toEqual([1, 2, 3]);
    expect(store.get("b").data).toEqual(quantizeQ8_0(values.b));
    expect(store.get("c").data).toEqual(quantizeQ4_0(values.c));
    expect(store.get("d").data).toEqual(encodeF16(values.d));
  });

  it("takes a tensor in chunks of whole blocks, giving the same file; every write is one tensor's data, the header or padding", async () => {
    const whole = new MemorySink();
    const w1 = new GgufWriter(whole, metadata, tensors);
    for (const t of tensors) await w1.writeTensor(t.name, values[t.name as keyof typeof values]);
    await w1.finish();
    const parts = new MemorySink();
    const w2 = new GgufWriter(parts, metadata, tensors);
    await w2.writeTensor("a", values.a);
    await w2.writeTensor("b", values.b.subarray(0, 64));
    await w2.writeTensor("b", values.b.subarray(64));
    for (let r = 0; r < 3; r++) await w2.writeTensor("c", values.c.subarray(32 * r, 32 * (r + 1)));
    await w2.writeTensor("d", encodeF16(values.d));
    await w2.finish();
    expect(sha256(parts.bytes())).toBe(sha256(whole.bytes()));
    expect(Math.max(...whole.chunks.map((c) => c.length))).toBe(w1.layout.header.length);
  });

  it("refuses out-of-order, oversized, partial-block and missing tensor data", async () => {
    const w = new GgufWriter(new MemorySink(), metadata, tensors, "out.gguf");
    await expect(w.writeTensor("b", values.b)).rejects.toThrow(/out\.gguf: tensor "b": data arrived out of order: the next tensor is "a"/);
    await expect(w.writeTensor("a", new Float32Array(4))).rejects.toThrow(/got 16 bytes, F32 \[3\] holds 12/);
    await w.writeTensor("a", values.a);
    await expect(w.writeTensor("b", new Uint8Array(10))).rejects.toThrow(/not whole Q8_0 blocks/);
    await expect(w.writeTensor("b", new Float32Array(16))).rejects.toThrow(/multiple of 32/);
    await w.writeTensor("b", values.b.subarray(0, 32));
    await expect(w.finish()).rejects.toThrow(/tensor "b": was never written \(34 of 136 bytes\)/);
    await expect(w.writeTensor("b", new Float32Array([Number.NaN, ...new Float32Array(31)]))).rejects.toThrow(/NaN or infinite/);
    const f16 = new GgufWriter(new MemorySink(), [], [{ name: "x", dims: [1], type: "F16" }]);
    await expect(f16.writeTensor("x", new Float32Array([70000]))).rejects.toThrow(/overflows F16/);
  });

  it("refuses headers llama.cpp or our reader would reject", () => {
    expect(() =>
      ggufLayout(
        [
          ["k", ggufKv.u32(1)],
          ["k", ggufKv.u32(2)],
        ],
        [],
      ),
    ).toThrow(/appears twice/);
    expect(() => ggufLayout([["bad\nkey", ggufKv.u32(1)]], [])).toThrow(/printable ASCII/);
    expect(() => ggufLayout([["k", ggufKv.u32(-1)]], [])).toThrow(/out of range for u32/);
    expect(() => ggufLayout([["k", ggufKv.i32(1.5)]], [])).toThrow(/out of range for i32/);
    expect(() => ggufLayout([["k", ggufKv.array("string", ["a", 3 as unknown as string])]], [])).toThrow(/"k\[1\]": 3 is not a string/);
    expect(() => ggufLayout([["general.alignment", ggufKv.u32(48)]], [])).toThrow(/power of two/);
    expect(() => ggufLayout([], [{ name: "x".repeat(64), dims: [1], type: "F32" }])).toThrow(/1\.\.63 bytes/);
    expect(() => ggufLayout([], [{ name: "q", dims: [48, 2], type: "Q4_0" }])).toThrow(/multiple of 32/);
    expect(() => ggufLayout([], [{ name: "q", dims: [1, 1, 1, 1, 1], type: "F32" }])).toThrow(/5 dims/);
  });
});

describe("quantizers: ggml's reference rounding, byte for byte", () => {
  /** values that exercise every branch: ties at .5 after scaling, zero blocks, negative maxima, subnormals, large and tiny scales */
  function awkward(n: number, seed: number): Float32Array {
    const rand = splitmix32(seed);
    const x = new Float32Array(n);
    for (let b = 0; b < n / 32; b++) {
      const kind = b % 8;
      for (let j = 0; j < 32; j++) {
        const u = 2 * rand() - 1;
        const i = 32 * b + j;
        if (kind === 0) x[i] = u;
        else if (kind === 1) x[i] = 0;
        else if (kind === 2)
          x[i] = j === 7 ? -127 : Math.round(u * 127) + (j % 2 ? 0.5 : 0); // exact halves after scaling by 1
        else if (kind === 3)
          x[i] = u * 1e-40; // subnormal inputs and scales
        else if (kind === 4) x[i] = u * 60000;
        else if (kind === 5)
          x[i] = j === 0 ? -8 : j === 1 ? 8 : Math.round(u * 16) / 2; // equal |max| of both signs: the first wins
        else if (kind === 6) x[i] = u * 1e-6;
        else x[i] = (Math.round(u * 8) * 2 + 1) / 16; // x * id + 8.5 lands on halves
      }
    }
    return x;
  }

  it.each([
    ["q8_0", quantizeQ8_0],
    ["q4_0", quantizeQ4_0],
    ["f16", encodeF16],
  ] as const)("%s equals WasmBackend.fromF32 + read on 64K awkward values", (dtype, quantize) => {
    for (const seed of [1, 2, 3]) {
      const x = awkward(1 << 16, seed);
      const t = backend.fromF32(dtype, [256, 256], x);
      const want = backend.read(t);
      t.free();
      const got = quantize(x);
      expect(sha256(got)).toBe(sha256(new Uint8Array(want.buffer, want.byteOffset, want.byteLength)));
    }
  });

  it("converting the llama-gqa3 fixture gives write_gguf.py's files byte for byte (F16, Q8_0, Q4_0)", async () => {
    const manifest = json(join(GOLDEN_DIR, "gguf", "llama-gqa3.gguf.json"));
    const dir = join(tmp, "llama-gqa3");
    await writeFixture("llama-gqa3", dir);
    // write_gguf.py's synthetic vocabulary, key for key
    const n = 256;
    const tokens = ["<unk>", "<s>", "</s>", ...Array.from({ length: n - 3 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)];
    const vocab: GgufMetadataList = [
      ["tokenizer.ggml.model", ggufKv.string("llama")],
      ["tokenizer.ggml.tokens", ggufKv.array("string", tokens)],
      ["tokenizer.ggml.scores", ggufKv.array("f32", new Float32Array(n))],
      ["tokenizer.ggml.token_type", ggufKv.array("i32", [2, 3, 3, ...new Array(n - 3).fill(6)])],
      ["tokenizer.ggml.bos_token_id", ggufKv.u32(1)],
      ["tokenizer.ggml.eos_token_id", ggufKv.u32(2)],
      ["tokenizer.ggml.unknown_token_id", ggufKv.u32(0)],
      ["tokenizer.ggml.add_bos_token", ggufKv.bool(true)],
      ["tokenizer.ggml.add_eos_token", ggufKv.bool(false)],
    ];
    const ckpt = await openHfCheckpoint(dir);
    try {
      for (const dtype of ["f16", "q8_0", "q4_0"] as const) {
        const sink = new MemorySink();
        await convertHfToGguf(ckpt, sink, { dtype, vocab, name: "llama-gqa3" });
        const file = `llama-gqa3.${dtype}.gguf`;
        const ours = sink.bytes();
        expect(ours.length).toBe(manifest.files[file].bytes);
        expect(sha256(ours)).toBe(manifest.files[file].sha256);
        expect(sha256(ours)).toBe(sha256(readFileSync(join(GOLDEN_DIR, "gguf", file))));
      }
    } finally {
      await ckpt.close();
    }
  });
});

describe("TinyStories-656K to GGUF and back", () => {
  const src = () => sharedDir("models", "tinystories-656k");
  const sentences = [
    "Once upon a time, there was a little girl named Lily.",
    'She loved to play outside. One day, she said, "Mom, can I have a red ball?"',
    "Tom and Sam were best friends.\nThey played in the park every day!",
    "  two leading spaces, a\ttab and numbers 1234",
  ];
  const files: Record<string, string> = {};
  beforeAll(async () => {
    for (const dtype of ["f32", "f16", "q8_0", "q4_0"] as const) {
      files[dtype] = join(tmp, `tinystories.${dtype}.gguf`);
      await convertHfFolderToGguf(src(), files[dtype], { dtype });
    }
  });

  it("holds llama.cpp's layout: llama metadata, permuted q/k, tied (no output.weight), norms F32", () => {
    const { header } = readGguf("ts.gguf", readFileSync(files.q8_0));
    const md = header.metadata;
    expect(md.get("general.architecture")).toBe("llama");
    expect(md.get("general.file_type")).toBe(7);
    const keys = [
      "llama.context_length",
      "llama.embedding_length",
      "llama.block_count",
      "llama.feed_forward_length",
      "llama.attention.head_count",
      "llama.attention.head_count_kv",
      "llama.rope.dimension_count",
      "llama.vocab_size",
    ];
    expect(keys.map((k) => md.get(k))).toEqual([512, 128, 2, 384, 8, 4, 16, 2048]);
    expect([md.get("llama.attention.layer_norm_rms_epsilon"), md.get("llama.rope.freq_base")]).toEqual([Math.fround(1e-6), 10000]);
    const types = Object.fromEntries(header.tensors.map((t) => [t.name, t.dtype]));
    expect(types["output.weight"]).toBeUndefined();
    expect([types["token_embd.weight"], types["blk.0.attn_q.weight"], types["blk.0.attn_norm.weight"], types["output_norm.weight"]]).toEqual([
      "Q8_0",
      "Q8_0",
      "F32",
      "F32",
    ]);
    expect(header.tensors.length).toBe(2 * 9 + 2);
    expect([
      md.get("tokenizer.ggml.model"),
      md.get("tokenizer.ggml.bos_token_id"),
      md.get("tokenizer.ggml.eos_token_id"),
      md.get("tokenizer.ggml.add_bos_token"),
    ]).toEqual(["llama", 1, 2, true]);
  });

  it.each(["f32", "f16", "q8_0", "q4_0"] as const)(
    "%s: every tensor is the safetensors weight (q/k permuted) in that dtype, as quantize-on-load makes it",
    (dtype) => {
      const { store: st } = readSafetensors("st", readFileSync(join(src(), "model.safetensors")));
      const { header, store } = readGguf("g", readFileSync(files[dtype]));
      for (const t of header.tensors) {
        // the tied embedding is stored as lm_head.weight in this checkpoint
        const hf = ggufToHfName(t.name) as string;
        const name = st.has(hf) ? hf : "lm_head.weight";
        let x = storedFloats(st.get(name));
        if (name.endsWith("q_proj.weight")) x = permuteForInterleavedRope(x, 128, 128, 8);
        if (name.endsWith("k_proj.weight")) x = permuteForInterleavedRope(x, 64, 128, 4);
        const want = t.shape.length === 1 || dtype === "f32" ? backend.tensor("f32", t.shape, x) : backend.fromF32(dtype, t.shape, x);
        const bytes = backend.read(want);
        want.free();
        expect(sha256(store.get(t.name).data), t.name).toBe(sha256(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
      }
    },
  );

  // f32/f16: the q·k summation order moves logits by a few ulps (measured <= 6e-7).
  // q8_0/q4_0: the matmuls quantize activations to int8 per block of 32 (as ggml does), so an
  // activation that sits on a rounding boundary turns that last-bit difference into one
  // quantization step; at that position and, through the KV cache, after it the logits move
  // by up to ~1e-2 (measured 9e-3 and 2e-3 on these sentences, 1e-7 elsewhere).
  it.each([
    ["f32", 1e-6],
    ["f16", 1e-6],
    ["q8_0", 2e-2],
    ["q4_0", 2e-2],
  ] as const)(
    "%s: logits equal loading the safetensors with that dtype (first position bit for bit, the rest within %s), same greedy text",
    async (dtype, tol) => {
      const gguf = await loadCausalLM(await LocalModelSource.fromPath(files[dtype]), { backend });
      const st = await loadCausalLM(await LocalModelSource.fromPath(src()), { backend, dtype: dtype === "f32" ? undefined : dtype });
      expect(gguf.config.ropeStyle).toBe("interleaved");
      const V = 2048;
      let worst = 0;
      for (const text of sentences) {
        const ids = [1, ...st.tokenizer.encode(text)];
        gguf.model.reset();
        st.model.reset();
        const a = gguf.model.prefill(ids, { allLogits: true }).logits;
        const b = st.model.prefill(ids, { allLogits: true }).logits;
        expect(a.subarray(0, V)).toEqual(b.subarray(0, V));
        worst = Math.max(worst, relErr(a, b));
        const greedy = (m: typeof gguf.model, first: Float32Array) => {
          const out: number[] = [];
          let logits = first;
          for (let i = 0; i < 12; i++) {
            const next = logits.indexOf(Math.max(...logits));
            out.push(next);
            logits = m.step(next);
          }
          return out;
        };
        expect(greedy(gguf.model, a.subarray(a.length - V))).toEqual(greedy(st.model, b.subarray(b.length - V)));
      }
      expect(worst).toBeLessThan(tol);
      gguf.model.free();
      st.model.free();
    },
  );

  it("the GGUF tokenizer (SPM, scores from merge ranks) encodes and decodes like the Hugging Face tokenizer", async () => {
    const gguf = await loadCausalLM(await LocalModelSource.fromPath(files.f32), { backend });
    const st = await loadCausalLM(await LocalModelSource.fromPath(src()), { backend });
    expect(gguf.tokenizer).toBeInstanceOf(SpmTokenizer);
    expect(st.tokenizer).toBeInstanceOf(HfTokenizer);
    expect([gguf.tokenizer.bosId, gguf.tokenizer.eosIds, gguf.tokenizer.addBos, gguf.tokenizer.vocabSize]).toEqual([1, [2], true, 2048]);
    for (const text of sentences) {
      const ids = st.tokenizer.encode(text);
      expect(gguf.tokenizer.encode(text), text).toEqual(ids);
      expect(gguf.tokenizer.decode(ids)).toBe(st.tokenizer.decode(ids));
    }
    gguf.model.free();
    st.model.free();
  });
});

describe("tokenizer.json -> GGUF llama vocabulary", () => {
  /** texts glued from random vocabulary pieces: many merge orders and pair boundaries */
  function pieceTexts(tok: Record<string, unknown>, n: number, seed: number): string[] {
    const vocab = (tok.model as { vocab: Record<string, number> }).vocab;
    const pieces = Object.keys(vocab)
      .filter((p) => !p.startsWith("<"))
      .map((p) => p.replaceAll("\u2581", " "));
    const rand = splitmix32(seed);
    return Array.from({ length: n }, () => Array.from({ length: 1 + Math.floor(rand() * 12) }, () => pieces[Math.floor(rand() * pieces.length)]).join(""));
  }

  it("Mistral's tokenizer.json: same ids as Hugging Face on llama.cpp's spm inputs and 2000 piece soups", () => {
    const dir = sharedDir("tokenizers", "mistral-minueza");
    const tj = json(join(dir, "tokenizer.json"));
    const tc = json(join(dir, "tokenizer_config.json"));
    const hf = new HfTokenizer(tj, tc);
    const spm = tokenizerThroughGguf(ggufVocabFromHfTokenizer(tj, tc));
    expect(spm).toBeInstanceOf(SpmTokenizer);
    expect([spm.vocabSize, spm.bosId, spm.eosIds]).toEqual([32002, hf.bosId, hf.eosIds]);
    const texts = [...readVectors("llama-spm").map((v) => v.text), ...pieceTexts(tj, 2000, 7)];
    const bad = texts.filter((t) => JSON.stringify(spm.encode(t)) !== JSON.stringify(hf.encode(t)));
    expect(bad).toEqual([]);
  });

  it("TinyStories' tokenizer.json: same ids on 5000 piece soups; only unknown characters and special-token text differ", () => {
    const dir = sharedDir("models", "tinystories-656k");
    const tj = json(join(dir, "tokenizer.json"));
    const tc = json(join(dir, "tokenizer_config.json"));
    const hf = new HfTokenizer(tj, tc);
    const vocab = ggufVocabFromHfTokenizer(tj, tc);
    const spm = tokenizerThroughGguf(vocab);
    // in-domain text: identical
    const texts = pieceTexts(tj, 5000, 11).filter((t) => !t.includes("<|"));
    expect(texts.filter((t) => JSON.stringify(spm.encode(t)) !== JSON.stringify(hf.encode(t)))).toEqual([]);
    // the vocabulary has no <0xNN> tokens: HF fuses a run of unknown characters into one <unk>
    // (fuse_unk), SPM gives one per character (llama.cpp's byte_to_token would throw instead)
    expect(hf.encode("héllo нещо")).toContain(0);
    expect(spm.encode("héllo нещо").filter((id) => id === 0).length).toBeGreaterThan(hf.encode("héllo нещо").filter((id) => id === 0).length);
    // what the merge-rank scores buy: with every score equal (gguf-py's LlamaHfVocab writes
    // -1000 for all) SPM merges leftmost-first and many texts come out different
    const flat = vocab.map(([k, v]): [string, typeof v] =>
      k === "tokenizer.ggml.scores" ? [k, ggufKv.array("f32", new Float32Array(2048).fill(-1000))] : [k, v],
    );
    const flatSpm = tokenizerThroughGguf(flat);
    expect(texts.filter((t) => JSON.stringify(flatSpm.encode(t)) !== JSON.stringify(hf.encode(t))).length).toBeGreaterThan(1000);
  });

  it("refuses tokenizer.json files it cannot map faithfully", () => {
    const byteLevel = { model: { type: "BPE", vocab: { a: 0 }, merges: [] }, pre_tokenizer: { type: "ByteLevel" } };
    expect(() => ggufVocabFromHfTokenizer(byteLevel)).toThrow(UnsupportedModelError);
    expect(() => ggufVocabFromHfTokenizer(byteLevel)).toThrow(/byte-level BPE vocabularies are not converted from tokenizer.json yet/);
    expect(() => ggufVocabFromHfTokenizer({ model: { type: "WordPiece", vocab: {} } })).toThrow(/model type "WordPiece"/);
  });
});

describe("vocabularies from tiktoken ranks and from other GGUF files", () => {
  it("Qwen2.5 from qwen.tiktoken (merges derived from ranks, padded to 151936): llama.cpp's qwen2 vectors pass", () => {
    const ranks = readFileSync(sharedDir("tokenizers", "qwen", "qwen.tiktoken"));
    const vocab = ggufVocabFromTiktoken(ranks, {
      pre: "qwen2",
      specialTokens: { "<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645, "<tool_call>": 151657 },
      userDefined: ["<tool_call>"],
      size: 151936,
      bosId: 151643,
      eosId: 151645,
      addBos: false,
    });
    const tok = tokenizerThroughGguf(vocab) as BpeTokenizer;
    expect(tok).toBeInstanceOf(BpeTokenizer);
    expect(tok.vocabSize).toBe(151936);
    expect(tok.token(151935)).toBe("[PAD151935]");
    expect(tok.encode("<|im_start|>user\n<tool_call>")).toEqual([151644, 872, 198, 151657]);
    const merges = vocab.find(([k]) => k === "tokenizer.ggml.merges")?.[1].value as string[];
    expect(merges.length).toBeGreaterThan(150000);
    for (const v of readVectors("qwen2")) expect(tok.encode(v.text), JSON.stringify(v.text)).toEqual(v.ids);
  });

  it("StarCoder's vocab-only GGUF (salvaged: the shared copy went through a text decoder) copied key for key, typed as llama.cpp reads them", () => {
    const file = sharedDir("tokenizers", "llama.cpp-vocab", "ggml-vocab-starcoder.gguf");
    const salvaged = salvageGguf(readFileSync(file), file).metadata;
    const vocab = ggufVocabFromMetadata(salvaged);
    const types = Object.fromEntries(vocab.map(([k, v]) => [k, v.type === "array" ? `${v.of}[]` : v.type]));
    expect(types).toEqual({
      "tokenizer.ggml.model": "string",
      "tokenizer.ggml.pre": "string",
      "tokenizer.ggml.tokens": "string[]",
      "tokenizer.ggml.token_type": "i32[]",
      "tokenizer.ggml.merges": "string[]",
      "tokenizer.ggml.bos_token_id": "u32",
      "tokenizer.ggml.eos_token_id": "u32",
      "tokenizer.ggml.unknown_token_id": "u32",
    });
    const { header } = readGguf("copy.gguf", ggufLayout(vocab, []).header);
    for (const [k, v] of salvaged) if (k.startsWith("tokenizer.")) expect(header.metadata.get(k) as GgufValue, k).toEqual(v);
    const tok = tokenizerFromGguf(header.metadata, "copy.gguf");
    expect(tok.vocabSize).toBe(49152);
    for (const v of readVectors("starcoder")) expect(tok.encode(v.text), JSON.stringify(v.text)).toEqual(v.ids);
  });
});

describe("other checkpoints", () => {
  const smallVocab = (n: number): GgufMetadataList => [
    ["tokenizer.ggml.model", ggufKv.string("llama")],
    ["tokenizer.ggml.tokens", ggufKv.array("string", ["<unk>", "<s>", "</s>", ...Array.from({ length: n - 3 }, (_, i) => `t${i}`)])],
    ["tokenizer.ggml.scores", ggufKv.array("f32", new Float32Array(n))],
    ["tokenizer.ggml.token_type", ggufKv.array("i32", [2, 3, 3, ...new Array(n - 3).fill(1)])],
  ];
  const prompts = [
    [1, 5, 9, 200, 3, 3, 77],
    [1, 255, 0, 128],
  ];

  it.each(["f32", "q8_0"] as const)(
    "qwen2-bias (Qwen2: biases, tied, NeoX RoPE, no permutation) %s: logits bit-identical to the safetensors at every position",
    async (dtype) => {
      const dir = join(tmp, "qwen2-bias");
      await writeFixture("qwen2-bias", dir);
      const out = join(tmp, `qwen2-bias.${dtype}.gguf`);
      await convertHfFolderToGguf(dir, out, { dtype, vocab: smallVocab(256), force: true });
      const { header } = readGguf("q.gguf", readFileSync(out));
      expect(header.metadata.get("general.architecture")).toBe("qwen2");
      expect(header.tensors.find((t) => t.name === "blk.1.attn_k.bias")?.dtype).toBe("F32");
      const gguf = await loadLlama(await LocalModelSource.fromPath(out), { backend });
      const st = await loadLlama(await LocalModelSource.fromPath(dir), { backend, dtype: dtype === "f32" ? undefined : dtype });
      expect([gguf.config.ropeStyle, gguf.config.attentionBias]).toEqual(["neox", true]);
      for (const ids of prompts) {
        gguf.model.reset();
        st.model.reset();
        expect(gguf.model.prefill(ids, { allLogits: true }).logits).toEqual(st.model.prefill(ids, { allLogits: true }).logits);
      }
      gguf.model.free();
      st.model.free();
    },
  );

  it("mistral-gqa2 (BF16, two shards, untied head) converts to a llama GGUF with output.weight and the same logits", async () => {
    const dir = join(tmp, "mistral-gqa2");
    await writeFixture("mistral-gqa2", dir);
    const out = join(tmp, "mistral.gguf");
    await convertHfFolderToGguf(dir, out, { dtype: "f32", vocab: smallVocab(256) });
    const { header } = readGguf("m.gguf", readFileSync(out));
    expect(header.tensors.find((t) => t.name === "output.weight")?.shape).toEqual([256, 64]);
    const gguf = await loadLlama(await LocalModelSource.fromPath(out), { backend });
    const st = await loadLlama(await LocalModelSource.fromPath(dir), { backend });
    for (const ids of prompts) {
      gguf.model.reset();
      st.model.reset();
      const a = gguf.model.prefill(ids, { allLogits: true }).logits;
      const b = st.model.prefill(ids, { allLogits: true }).logits;
      expect(a.subarray(0, 256)).toEqual(b.subarray(0, 256));
      expect(relErr(a, b)).toBeLessThan(1e-6);
    }
    gguf.model.free();
    st.model.free();
  });
});

describe("bad inputs and outputs", () => {
  async function folder(name: string, edit: (dir: string) => void): Promise<string> {
    const dir = join(tmp, name);
    await writeFixture("llama2-mha", dir);
    edit(dir);
    return dir;
  }
  const vocab: GgufMetadataList = [["tokenizer.ggml.model", ggufKv.string("llama")]];

  it("refuses an output that exists (unless forced) and never overwrites an input, even forced", async () => {
    const dir = await folder("inputs", () => {});
    const out = join(tmp, "exists.gguf");
    writeFileSync(out, "keep me");
    await expect(convertHfFolderToGguf(dir, out, { dtype: "f16", vocab })).rejects.toThrow(OutputExistsError);
    expect(readFileSync(out, "utf8")).toBe("keep me");
    await convertHfFolderToGguf(dir, out, { dtype: "f16", vocab, force: true });
    expect(readGguf("f.gguf", readFileSync(out)).header.metadata.get("general.file_type")).toBe(1);
    const input = join(dir, "model.safetensors");
    const before = sha256(readFileSync(input));
    await expect(convertHfFolderToGguf(dir, input, { dtype: "f16", vocab, force: true })).rejects.toThrow(/is an input of this conversion/);
    expect(sha256(readFileSync(input))).toBe(before);
    // no partial files left behind
    expect(readdirSync(tmp).filter((f) => f.includes(".partial-"))).toEqual([]);
  });

  it("names what is wrong: truncated safetensors, missing or misshapen tensors, unsupported configs, no tokenizer", async () => {
    const out = (n: string) => join(tmp, `${n}.gguf`);
    const truncated = await folder("truncated", (d) => {
      const b = readFileSync(join(d, "model.safetensors"));
      writeFileSync(join(d, "model.safetensors"), b.subarray(0, b.length - 100));
    });
    await expect(convertHfFolderToGguf(truncated, out("t"), { dtype: "f32", vocab })).rejects.toThrow(ModelFormatError);
    await expect(convertHfFolderToGguf(truncated, out("t"), { dtype: "f32", vocab })).rejects.toThrow(/model\.safetensors.*run past/);

    const missing = await folder("missing", (d) => {
      const { store } = readSafetensors("m", readFileSync(join(d, "model.safetensors")));
      const keep = store.names().filter((n) => n !== "model.layers.1.mlp.up_proj.weight");
      writeFileSync(join(d, "model.safetensors"), encodeSafetensors(keep.map((n) => store.get(n))));
    });
    await expect(convertHfFolderToGguf(missing, out("m"), { dtype: "f32", vocab })).rejects.toThrow(
      /tensor "model\.layers\.1\.mlp\.up_proj\.weight": is missing/,
    );

    const misshapen = await folder("misshapen", (d) => {
      const cfg = json(join(d, "config.json"));
      writeFileSync(join(d, "config.json"), JSON.stringify({ ...cfg, intermediate_size: 96 }));
    });
    await expect(convertHfFolderToGguf(misshapen, out("s"), { dtype: "f32", vocab })).rejects.toThrow(/has shape \[32, 64\], config\.json needs \[32, 96\]/);

    const extra = await folder("extra", (d) => {
      const { store } = readSafetensors("m", readFileSync(join(d, "model.safetensors")));
      const odd = { name: "model.layers.0.self_attn.q_norm.weight", dtype: "F32" as const, shape: [8], data: new Uint8Array(32) };
      writeFileSync(join(d, "model.safetensors"), encodeSafetensors([...store.names().map((n) => store.get(n)), odd]));
    });
    await expect(convertHfFolderToGguf(extra, out("e"), { dtype: "f32", vocab })).rejects.toThrow(
      /has no place for: model\.layers\.0\.self_attn\.q_norm\.weight/,
    );

    const gpt2 = await folder("gpt2", (d) =>
      writeFileSync(join(d, "config.json"), JSON.stringify({ ...json(join(d, "config.json")), architectures: ["GPT2LMHeadModel"], model_type: "gpt2" })),
    );
    await expect(convertHfFolderToGguf(gpt2, out("g"), { dtype: "f32", vocab })).rejects.toThrow(UnsupportedModelError);

    const llama3 = join(tmp, "llama3-gqa8");
    await writeFixture("llama3-gqa8", llama3);
    await expect(convertHfFolderToGguf(llama3, out("l3"), { dtype: "f32", vocab })).rejects.toThrow(/rope scaling "llama3" is not converted/);

    await expect(convertHfFolderToGguf(await folder("notok", () => {}), out("n"), { dtype: "f32" })).rejects.toThrow(/has no tokenizer\.json; name a GGUF/);
    await expect(convertHfFolderToGguf(join(tmp, "nowhere"), out("x"), { dtype: "f32", vocab })).rejects.toThrow(/nowhere/);
    await expect(convertHfFolderToGguf(await folder("dtype", () => {}), out("d"), { dtype: "q5_1" as "f32", vocab })).rejects.toThrow(
      /dtype "q5_1" is not one of/,
    );
    expect(readdirSync(tmp).filter((f) => f.endsWith(".gguf") && /^(t|m|s|e|g|l3|n|x|d)\.gguf$/.test(f))).toEqual([]);
  });
});
