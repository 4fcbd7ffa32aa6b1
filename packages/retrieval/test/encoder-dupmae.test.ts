/**
 * DupMAE against tools/reference/retrieval_ref.py (numpy, float64) on a random-weight
 * BertForMaskedLM at the bert-tiny shape with a sentence-transformers Dense projection
 * (128 -> 64): the [CLS] vector, its projection, the bag-of-words vector over both position
 * choices, and the score dense . dense + bow . bow.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalModelSource } from "@edgespec/models/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DupMaeEncoder, dupmaeScore, inspectEncoderCheckpoint, loadDupMaeEncoder, sparseDot } from "../src/encoders/index";
import { compareSummary, readEncoderGolden, relErr, writeEncoderFixture } from "./fixtures/encoders";

/** Relative to the golden's largest |value| (vectors) or to the golden score: float32 wasm vs float64 numpy (we see ~1e-7). */
const TOL = 2e-5;

const g = readEncoderGolden().dupmae["dupmae-tiny"];
let tmp: string;
let enc: DupMaeEncoder;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "edgespec-dupmae-"));
  await writeEncoderFixture("dupmae-tiny", join(tmp, "dupmae-tiny"));
  enc = await loadDupMaeEncoder(await LocalModelSource.fromPath(join(tmp, "dupmae-tiny")));
});
afterAll(async () => {
  enc?.model.free();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("DupMAE matches retrieval_ref.py", () => {
  it("finds the Dense projection", async () => {
    const info = await inspectEncoderCheckpoint(await LocalModelSource.fromPath(join(tmp, "dupmae-tiny")));
    expect(info.projection).toBe("2_Dense");
    expect(enc.options.projection?.outFeatures).toBe(64);
  });

  it("[CLS], projected dense vector and bag of words", () => {
    const plain = new DupMaeEncoder(enc.model, enc.tokenizer);
    const afterCls = new DupMaeEncoder(enc.model, enc.tokenizer, { positions: "after-cls" });
    let worst = 0;
    for (const t of g.texts) {
      const ids = enc.inputIds(t.text);
      expect(ids).toEqual(t.ids);
      expect(enc.ordinaryPositions(ids)).toEqual(t.ordinary_positions);
      expect(afterCls.ordinaryPositions(ids)).toEqual(ids.slice(1).map((_, i) => i + 1));
      const cls = relErr(plain.denseOfIds(ids), t.cls);
      const dense = relErr(enc.denseOfIds(ids), t.dense);
      expect(cls, "cls").toBeLessThanOrEqual(TOL);
      expect(dense, "dense").toBeLessThanOrEqual(TOL);
      worst = Math.max(worst, cls, dense);
      worst = Math.max(worst, compareSummary(enc.bagOfWordsOfIds(ids), t.bow_non_special, TOL, `bow non-special "${t.text}"`));
      worst = Math.max(worst, compareSummary(afterCls.bagOfWordsOfIds(ids), t.bow_after_cls, TOL, `bow after-cls "${t.text}"`));
      const v = enc.encode(t.text);
      expect(v.sparse.ids.length).toBe(g.topk);
    }
    console.log(`[dupmae] worst relative error ${worst.toExponential(2)}`);
  });

  it("score = dense . dense + bow . bow over the top 256", () => {
    const vs = g.texts.map((t) => enc.encode(t.text));
    let checkedTopK = 0;
    for (const s of g.scores) {
      const [a, b] = s.pair.map((i) => vs[i]);
      let dense = 0;
      for (let i = 0; i < a.dense.length; i++) dense += a.dense[i] * b.dense[i];
      expect(Math.abs(dense - s.dense) / Math.abs(s.dense)).toBeLessThanOrEqual(TOL);
      expect(dupmaeScore(a, b)).toBeCloseTo(dense + sparseDot(a.sparse, b.sparse), 3);
      // the top-256 cut is comparable across float32 / float64 only where the 256th and 257th weights are far apart
      const safe = s.pair.every((i) => g.texts[i].topk_gap > 10 * TOL * g.texts[i].bow_non_special.max);
      if (safe) {
        expect(Math.abs(dupmaeScore(a, b) - s.score_topk) / s.score_topk).toBeLessThanOrEqual(TOL);
        checkedTopK++;
      }
      const full = (i: number) => new DupMaeEncoder(enc.model, enc.tokenizer, { topK: 30522 }).encode(g.texts[i].text).sparse;
      expect(Math.abs(sparseDot(full(s.pair[0]), full(s.pair[1])) - s.bow_full) / s.bow_full).toBeLessThanOrEqual(TOL);
    }
    expect(checkedTopK).toBeGreaterThan(0);
  });

  it("terms view and batches", async () => {
    const seen: number[] = [];
    const out = await enc.encodeMany(
      g.texts.map((t) => t.text),
      { onProgress: (d) => seen.push(d) },
    );
    expect(seen).toEqual([1, 2, 3]);
    const terms = enc.terms(out[0].sparse);
    expect(terms).toHaveLength(256);
    expect(terms[0].id).toBe(g.texts[0].bow_non_special.top50[0][0]);
    expect(terms[0].term).toBe(enc.tokenizer.token(terms[0].id));
  });

  it("refuses a projection that does not fit", () => {
    const bad = { weight: new Float32Array(10), bias: null, inFeatures: 5, outFeatures: 2 };
    expect(() => new DupMaeEncoder(enc.model, enc.tokenizer, { projection: bad })).toThrow(/does not fit the hidden size 128/);
  });
});
