/** The page's pure parts in Node: step roles, picked-file names, the retrieval demo's helpers, and the files source loading a real model. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generate } from "@edgespec/decoding";
import { loadCausalLM } from "@edgespec/models";
import { describe, expect, it } from "vitest";
import { FilesModelSource, relativeNames } from "../src/file-source";
import { documentLines, matchingTerms } from "../src/retrieval";
import { draftTree, type TreeNode, tokenRoles } from "../src/steps";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const modelDir = join(resolve(repoRoot, process.env.EDGESPEC_FIXTURES ?? "../shared"), "models", "tinystories-656k");

describe("retrieval demo helpers", () => {
  it("takes one document per non-blank line", () => {
    expect(documentLines("  a cat \n\n b dog\n   \n")).toEqual(["a cat", "b dog"]);
  });
  it("lists the query terms a document holds by contribution", () => {
    const query = [
      { term: "cat", id: 5, weight: 2 },
      { term: "dog", id: 9, weight: 1 },
      { term: "fish", id: 3, weight: 0.5 },
    ];
    const doc = { ids: Int32Array.from([3, 5, 9]), weights: Float32Array.from([4, 0.5, 2]) };
    expect(matchingTerms(query, doc)).toEqual([
      { term: "dog", contribution: 2 },
      { term: "fish", contribution: 2 },
      { term: "cat", contribution: 1 },
    ]);
    expect(matchingTerms(query, { ids: Int32Array.from([7]), weights: Float32Array.from([1]) })).toEqual([]);
    expect(matchingTerms(query, doc, 1)).toHaveLength(1);
  });
});

describe("tokenRoles", () => {
  it("gives each step its accepted drafts and then its bonus token", () => {
    const roles = tokenRoles([
      { pending: 0, proposed: 4, accepted: 2 },
      { pending: 3, proposed: 4, accepted: 0 },
      // a paused (plain) step in between leaves token 5 to nobody
      { pending: 5, proposed: 2, accepted: 1 },
    ]);
    expect([...roles.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [1, { step: 0, kind: "accepted" }],
      [2, { step: 0, kind: "accepted" }],
      [3, { step: 0, kind: "bonus" }],
      [4, { step: 1, kind: "bonus" }],
      [6, { step: 2, kind: "accepted" }],
      [7, { step: 2, kind: "bonus" }],
    ]);
  });
});

describe("draftTree", () => {
  it("hangs proposed nodes under their parents, marks the accepted path and adds the bonus after it", () => {
    // root 7 -> a(10) -> b(11) -> c(12); a -> d(13); root -> e(14); accepted a, b; bonus 99
    const root = draftTree({ root: 7, tokens: [10, 11, 12, 13, 14], parents: [-1, 0, 1, 0, -1], acceptedNodes: [0, 1], bonus: 99 });
    const flat = (n: TreeNode): [number, string, number][] => [[n.token, n.role, n.depth], ...n.children.flatMap(flat)];
    expect(flat(root)).toEqual([
      [7, "root", 0],
      [10, "accepted", 1],
      [11, "accepted", 2],
      [12, "rejected", 3],
      [99, "bonus", 3],
      [13, "rejected", 2],
      [14, "rejected", 1],
    ]);
    // nothing accepted: the bonus follows the root; an empty tree is the root and the bonus
    expect(draftTree({ root: 7, tokens: [10], parents: [-1], acceptedNodes: [], bonus: 5 }).children.map((c) => [c.token, c.role])).toEqual([
      [10, "rejected"],
      [5, "bonus"],
    ]);
    expect(flat(draftTree({ root: 7, tokens: [], parents: [], acceptedNodes: [], bonus: 5 }))).toEqual([
      [7, "root", 0],
      [5, "bonus", 1],
    ]);
    expect(() => draftTree({ root: 7, tokens: [1, 2], parents: [1, -1], acceptedNodes: [], bonus: 5 })).toThrow(/parent 1/);
  });
});

describe("FilesModelSource", () => {
  const file = (name: string, path = "") => Object.assign(new Blob(["x"]), { name, webkitRelativePath: path });

  it("names files relative to a picked folder", () => {
    expect(relativeNames([file("a.json", "m/a.json"), file("b", "m/sub/b")])).toEqual(["a.json", "sub/b"]);
    expect(relativeNames([file("a.json"), file("b.bin")])).toEqual(["a.json", "b.bin"]);
  });

  it("picks a llama2.c checkpoint and its tokenizer as the entry", () => {
    const src = new FilesModelSource([file("stories260K.bin"), file("tok512.bin")]);
    expect(src.entry).toBe("stories260K.bin");
    expect(src.llama2cTokenizer).toBe("tok512.bin");
    expect(new FilesModelSource([file("config.json"), file("model.safetensors")]).entry).toBeUndefined();
  });

  it("loads TinyStories-656K from in-memory files and decodes the reference's greedy text", async () => {
    if (!existsSync(modelDir)) throw new Error(`TinyStories-656K not found at ${modelDir} (set EDGESPEC_FIXTURES)`);
    const names = ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"];
    const files = names.map((n) => Object.assign(new Blob([readFileSync(join(modelDir, n))]), { name: n, webkitRelativePath: `tinystories-656k/${n}` }));
    const src = new FilesModelSource(files);
    expect(await src.list()).toEqual(names);
    const golden = JSON.parse(readFileSync(join(repoRoot, "packages/models/test/golden/tinystories-656k.json"), "utf8"));
    const c = golden.cases[0];
    const { model, tokenizer } = await loadCausalLM(src);
    try {
      const r = await generate(model, tokenizer, c.text, { maxTokens: c.greedy.length, temperature: 0 });
      expect(r.tokens).toEqual(c.greedy);
      expect(r.text).toBe(c.greedy_text);
    } finally {
      model.free();
    }
  });
});
