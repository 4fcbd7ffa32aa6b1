/**
 * Transplants between the real models of ../shared: what is kept, what is tied, what is
 * written, that the result loads and generates, and that OMP beats the mean baseline.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCausalLM, loadLlama, readSafetensors } from "@edgespec/models";
import { createBackend } from "@edgespec/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Checkpoint, checkpointFiles, checkpointModel, scoreTexts, transplantTokenizer } from "../src/index";
import { HELD_OUT, localSource, realCheckpoint } from "./helpers";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "edgespec-transplant-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function writeDir(name: string, files: Map<string, Uint8Array>): Promise<string> {
  const dir = join(scratch, name);
  await rm(dir, { recursive: true, force: true });
  await (await import("node:fs/promises")).mkdir(dir, { recursive: true });
  for (const [f, bytes] of files) await writeFile(join(dir, f), bytes);
  return dir;
}

function rowBits(data: Float32Array, row: number, dim: number): number[] {
  return Array.from(new Uint32Array(data.buffer, data.byteOffset + row * dim * 4, dim));
}

/** stories260K with an untied head: lm_head = 1.5 x embed_tokens + a per-row shift. */
function untied(base: Checkpoint): Checkpoint {
  const embed = base.tensors.get("model.embed_tokens.weight");
  if (!embed) throw new Error("no embed");
  const head = Float32Array.from(embed.data, (v, i) => 1.5 * v + 0.01 * Math.floor(i / embed.shape[1]));
  const tensors = new Map(base.tensors);
  tensors.set("lm_head.weight", { shape: [...embed.shape], data: head });
  return { ...base, config: { ...base.config, tieWordEmbeddings: false }, tensors };
}

describe("transplantTokenizer on the real models", () => {
  it("copies shared tokens bit for bit and keeps every other weight", async () => {
    const base = await realCheckpoint("stories260k");
    const donor = await realCheckpoint("tinystories");
    const r = await transplantTokenizer(base, donor, { method: "omp", k: 8 });
    expect(r.match.anchors.length).toBeGreaterThan(100);
    expect(r.embed.rows).toBe(2048);
    const baseEmbed = base.tensors.get("model.embed_tokens.weight")?.data as Float32Array;
    for (const d of r.match.anchors) expect(rowBits(r.embed.data, d, 64)).toEqual(rowBits(baseEmbed, r.match.donorToBase[d], 64));
    for (const [name, t] of base.tensors) if (name !== "model.embed_tokens.weight") expect(r.checkpoint.tensors.get(name)).toBe(t);
    expect(r.checkpoint.config.vocabSize).toBe(2048);
    expect(r.checkpoint.tokenizer).toBe(donor.tokenizer);
  });

  it("a tied model stays tied: one matrix, written once, loaded as both embed_tokens and lm_head", async () => {
    const r = await transplantTokenizer(await realCheckpoint("stories260k"), await realCheckpoint("tinystories"), { method: "omp", k: 8 });
    expect(r.lmHead).toBeUndefined();
    expect(r.checkpoint.config.tieWordEmbeddings).toBe(true);
    const files = checkpointFiles(r.checkpoint, r.record);
    const names = readSafetensors("model.safetensors", files.get("model.safetensors") as Uint8Array).store.names();
    expect(names).toContain("model.embed_tokens.weight");
    expect(names).not.toContain("lm_head.weight");
    expect(JSON.parse(new TextDecoder().decode(files.get("config.json"))).tie_word_embeddings).toBe(true);
    const loaded = await loadLlama(await localSource(await writeDir("tied", files)));
    expect(loaded.model.lm_head).toBe(loaded.model.embed_tokens);
  });

  it("an untied model gets its own rebuilt lm_head, from the head's own anchors", async () => {
    const base = untied(await realCheckpoint("stories260k"));
    const r = await transplantTokenizer(base, await realCheckpoint("tinystories"), { method: "omp", k: 8 });
    expect(r.lmHead).toBeDefined();
    const head = r.lmHead as NonNullable<typeof r.lmHead>;
    const baseHead = base.tensors.get("lm_head.weight")?.data as Float32Array;
    for (const d of r.match.anchors) expect(rowBits(head.data, d, 64)).toEqual(rowBits(baseHead, r.match.donorToBase[d], 64));
    // the approximated rows differ between the two matrices (different base rows)
    const t = head.approximated[0];
    expect(rowBits(head.data, t, 64)).not.toEqual(rowBits(r.embed.data, t, 64));
    const files = checkpointFiles(r.checkpoint, r.record);
    expect(readSafetensors("m", files.get("model.safetensors") as Uint8Array).store.names()).toContain("lm_head.weight");
    const loaded = await loadLlama(await localSource(await writeDir("untied", files)));
    expect(loaded.model.lm_head).not.toBe(loaded.model.embed_tokens);
  });

  it("onto its own tokenizer it is the same model: the written HF folder gives the llama2.c model's logits", async () => {
    // every token is an anchor; the folder is rotate-half HF Llama with tokenizer.bin beside it
    const base = await realCheckpoint("stories260k");
    const r = await transplantTokenizer(base, base, { method: "omp", k: 8 });
    expect(r.match.unmatched.length).toBe(0);
    const dir = await writeDir("identity", checkpointFiles(r.checkpoint, r.record));
    const loaded = await loadCausalLM(await localSource(dir));
    const ids = [1, ...loaded.tokenizer.encode("Once upon a time, there was a little dog.")];
    expect(ids).toEqual([1, ...base.tokenizer.encode("Once upon a time, there was a little dog.")]);
    const backend = await createBackend("wasm");
    const original = checkpointModel(base, backend).prefill(ids, { allLogits: true }).logits;
    const written = loaded.model.prefill(ids, { allLogits: true }).logits;
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < original.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(original[i] - written[i]));
      maxAbs = Math.max(maxAbs, Math.abs(original[i]));
    }
    expect(maxDiff).toBeLessThan(1e-5 * maxAbs);
  });

  it("the transplanted model loads from its folder and generates with the donor's tokenizer", async () => {
    const r = await transplantTokenizer(await realCheckpoint("stories260k"), await realCheckpoint("tinystories"), { method: "omp", k: 8 });
    const dir = await writeDir("generates", checkpointFiles(r.checkpoint, r.record));
    const loaded = await loadCausalLM(await localSource(dir));
    expect(loaded.tokenizer.vocabSize).toBe(2048);
    expect(loaded.config.vocabSize).toBe(2048);
    const ids = [loaded.tokenizer.bosId as number, ...loaded.tokenizer.encode("Once upon a time")];
    // the folder gives the in-memory transplant's logits
    const inMemory = checkpointModel(r.checkpoint, await createBackend("wasm")).prefill(ids).logits;
    const fromDisk = loaded.model.prefill(ids).logits;
    for (let i = 0; i < inMemory.length; i++) expect(Math.abs(fromDisk[i] - inMemory[i])).toBeLessThan(1e-4);
    // and decodes: 12 greedy steps give 12 in-vocabulary tokens that detokenize
    let logits = fromDisk;
    const out: number[] = [];
    for (let s = 0; s < 12; s++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      out.push(best);
      logits = loaded.model.step(best);
    }
    expect(out.every((t) => t >= 0 && t < 2048)).toBe(true);
    expect(typeof loaded.tokenizer.decode(out)).toBe("string");
  });

  it("OMP beats mean initialisation in perplexity on both TinyStories directions", async () => {
    const backend = await createBackend("wasm");
    const s260 = await realCheckpoint("stories260k");
    const ts = await realCheckpoint("tinystories");
    for (const [base, donor] of [
      [s260, ts],
      [ts, s260],
    ]) {
      const ppl = async (method: "omp" | "mean") => {
        const r = await transplantTokenizer(base, donor, { method, k: 8 });
        const model = checkpointModel(r.checkpoint, backend);
        const score = scoreTexts(model, r.checkpoint.tokenizer, HELD_OUT);
        model.free();
        return score.ppl;
      };
      const [omp, mean] = [await ppl("omp"), await ppl("mean")];
      expect(omp, `${base.label} <- ${donor.label}: omp ${omp} vs mean ${mean}`).toBeLessThan(mean);
    }
  });

  it("at the default settings (k = 64) OMP beats both mean and zero in perplexity on the real pairs", async () => {
    // the plain least-squares form (`center: false, ridge: 0`) lost to mean and to zero here at
    // k = 64: 64 atoms in 64-128 dims fit the donor row exactly with coefficients that do not
    // transfer (see initialize.ts)
    const backend = await createBackend("wasm");
    const [s260, ts, aid] = [await realCheckpoint("stories260k"), await realCheckpoint("tinystories"), await realCheckpoint("aidreams")];
    const ppl = async (base: Checkpoint, donor: Checkpoint, opts: Parameters<typeof transplantTokenizer>[2]) => {
      const r = await transplantTokenizer(base, donor, opts);
      const model = checkpointModel(r.checkpoint, backend);
      const score = scoreTexts(model, r.checkpoint.tokenizer, HELD_OUT);
      model.free();
      return score.ppl;
    };
    for (const [base, donor] of [
      [s260, ts],
      [ts, s260],
      [s260, aid],
    ]) {
      const omp = await ppl(base, donor, {});
      const [mean, zero] = [await ppl(base, donor, { method: "mean" }), await ppl(base, donor, { method: "zero" })];
      const plain = await ppl(base, donor, { center: false, ridge: 0 });
      const what = `${base.label} <- ${donor.label}: omp ${omp}, mean ${mean}, zero ${zero}, plain k=64 ${plain}`;
      expect(omp, what).toBeLessThan(0.8 * mean);
      expect(omp, what).toBeLessThan(0.9 * zero);
      expect(omp, what).toBeLessThan(0.5 * plain);
    }
    // aidreams260K, trained on another kind of text, learns nothing from any initialisation
    // (zero is best there); OMP still beats mean
    const [omp, mean] = [await ppl(aid, ts, {}), await ppl(aid, ts, { method: "mean" })];
    expect(omp, `aidreams260K <- TinyStories-656K: omp ${omp}, mean ${mean}`).toBeLessThan(0.5 * mean);
  });

  it("the transplant record names the OMP settings", async () => {
    const r = await transplantTokenizer(await realCheckpoint("stories260k"), await realCheckpoint("tinystories"), { k: 16 });
    expect(r.record).toMatchObject({ method: "omp", k: 16, ridge: 1, center: true });
  });

  it("names a k larger than the anchor set, and mismatched hidden sizes", async () => {
    const base = await realCheckpoint("stories260k");
    const donor = await realCheckpoint("tinystories");
    await expect(transplantTokenizer(base, donor, { k: 200 })).rejects.toThrow(/k = 200 is larger than the anchor set \(\d+ shared tokens\)/);
    const wrong = { ...base, config: { ...base.config, hiddenSize: 96 } };
    await expect(transplantTokenizer(wrong, donor)).rejects.toThrow(
      /model\.embed_tokens\.weight is \[512, 64\] but the model's hidden size is 96; the hidden sizes do not match/,
    );
  });
});
