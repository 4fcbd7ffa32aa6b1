// The random-weight encoder checkpoints the retrieval package's tests use (splade-tiny,
// dupmae-tiny of packages/retrieval/test/fixtures/encoders.json), written into a temporary folder
// with the models package's BERT generator, the real bert-base-uncased tokenizer linked from the
// shared fixtures. No weights are committed. (The generator's extensionless imports need
// `--unstable-sloppy-imports`.)
import { encodeSafetensors } from "@edgespec/models";
import { bertSafetensorsBytes, bertTensors, bertWeightValues } from "../../packages/models/test/fixtures/bert.ts";
import { defaultModel } from "./generate.ts";

interface EncoderSpec {
  name: string;
  seed: number;
  dtype: "F32";
  config: Record<string, unknown> & { architectures: string[] };
  projection?: { module: string; in_features: number; out_features: number };
}

const SPECS = new URL("../../packages/retrieval/test/fixtures/encoders.json", import.meta.url);

function sharedTokenizer(file: string): string {
  // defaultModel() is $EDGESPEC_FIXTURES/models/tinystories-656k (default ../shared)
  return `${defaultModel().replace(/\/models\/[^/]+$/, "")}/tokenizers/bert-base-uncased/${file}`;
}

/** Writes `dir` (config.json, model.safetensors, tokenizer links, and the Dense module of a projection), as writeEncoderFixture does. */
export async function writeEncoderFixture(name: string, dir: string): Promise<void> {
  const all = JSON.parse(await Deno.readTextFile(SPECS)) as EncoderSpec[];
  const fx = all.find((s) => s.name === name);
  if (!fx) throw new Error(`no encoder fixture ${name} in ${SPECS.pathname}`);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/config.json`, `${JSON.stringify(fx.config, null, 2)}\n`);
  await Deno.writeFile(`${dir}/model.safetensors`, bertSafetensorsBytes(bertTensors(fx)));
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
    const target = sharedTokenizer(f);
    await Deno.stat(target).catch(() => {
      throw new Error(`${target} is missing: these tests need the shared fixtures (set EDGESPEC_FIXTURES or put them at ../shared)`);
    });
    await Deno.symlink(target, `${dir}/${f}`);
  }
  const p = fx.projection;
  if (!p) return;
  await Deno.writeTextFile(
    `${dir}/modules.json`,
    JSON.stringify([
      { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
      { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
      { idx: 2, name: "2", path: p.module, type: "sentence_transformers.models.Dense" },
    ]),
  );
  await Deno.mkdir(`${dir}/${p.module}`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/${p.module}/config.json`,
    JSON.stringify({ in_features: p.in_features, out_features: p.out_features, bias: true, activation_function: "torch.nn.modules.linear.Identity" }),
  );
  const t = (tname: string, shape: number[]) => {
    const v = bertWeightValues(tname, shape, fx.seed);
    return { name: tname, dtype: "F32" as const, shape, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
  };
  await Deno.writeFile(
    `${dir}/${p.module}/model.safetensors`,
    encodeSafetensors([t("linear.weight", [p.out_features, p.in_features]), t("linear.bias", [p.out_features])]),
  );
}
