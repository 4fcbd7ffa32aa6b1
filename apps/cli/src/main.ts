/**
 * edgespec command line: `edgespec generate ...`, `edgespec transplant ...` and `edgespec bench ...` (see HELP).
 */

import { benchDecode } from "@edgespec/bench/decode";
import { benchLoad } from "@edgespec/bench/load";
import { benchPeers } from "@edgespec/bench/peers";
import { benchRetrieval } from "@edgespec/bench/retrieval";
import { benchSpec } from "@edgespec/bench/spec";
import { benchTransplant } from "@edgespec/bench/transplant";
import { benchWebgpu } from "@edgespec/bench/webgpu";
import { EdgespecError } from "@edgespec/runtime";
import { chatCommand } from "./chat";
import { convertCommand } from "./convert";
import { generateCommand } from "./generate";
import { embedCommand, indexCommand, searchCommand } from "./retrieval";
import { serveCommand } from "./serve";
import { transplantCommand } from "./transplant";
import { UsageError } from "./usage";

const HELP = `usage:
  edgespec generate --model <dir|file|url|org/name> [--tokenizer FILE] [--prompt TEXT] [--chat]
                    [--max-tokens N] [--dtype f32|f16|q8_0|q4_0] [--context N] [--kv-cache f32|f16] [--threads N|auto]
                    [--backend auto|wasm|webgpu] [--json] [--stats]
      sampling:     [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--typical-p P]
                    [--repetition-penalty R] [--frequency-penalty F] [--presence-penalty F]
                    [--seed S] [--stop TEXT]... [--regex R | --json-schema FILE]
      speculative:  [--drafter none|lookup|recycling|aded|stand|early-exit:N|model:PATH|rsd|dyspec]
                    [--draft-budget N]
      search:       --beams N [--diverse-groups G] [--diversity-penalty L] [--length-penalty A]
                  | --momentum [--momentum-alpha A] [--momentum-k K]
                  | --first-finish N
  edgespec transplant --base <model> --donor <model> [--k 64] [--method omp|mean|zero|randn]
                     --out <dir> [--base-tokenizer FILE] [--donor-tokenizer FILE] [--seed S] [--json]
  edgespec chat --model <dir|file|url|org/name> [--system TEXT] [--temperature T] [--top-p P]
                [--seed S] [--max-tokens N] [--threads N|auto] [--backend auto|wasm|webgpu] [--json]
                (stdin: one user turn per line)
  edgespec serve --model <dir|file|url|org/name> [--tokenizer FILE] [--id NAME] [--dtype D] [--threads N|auto]
                 [--host 127.0.0.1] [--port 8787] [--max-tokens N] [--max-concurrent N]
                 [--max-queued N] [--preload] [--splade DIR] [--dupmae DIR] [--index DIR]
  edgespec embed --model <dir> [--mode splade|dupmae] --text T [--text T]... [--query] [--terms N]
                 [--top-k N] [--query-top-k N] [--json]
  edgespec index build --model <dir> [--mode splade|dupmae] --input docs.jsonl --out <dir>
                       [--field text] [--id-field id] [--top-k N] [--query-top-k N] [--json]
  edgespec search --index <dir> --query TEXT [--k 10] [--json]
  edgespec convert <hf-model-dir> --to gguf --dtype f32|f16|q8_0|q4_0 -o out.gguf [--vocab F.gguf] [--force] [--json]
  edgespec bench decode [--shape smollm2-135m] [--dtype f32,q8_0,q4_0] [--threads N] [--simd baseline|relaxed|auto] [--kv-cache f32|f16] [--quick] [--json]
  edgespec bench peers [--threads 1,2] [--models id,...] [--skip-ort] [--quick] [--json]
  edgespec bench spec [--drafter lookup,recycling,...] [--quick] [--json]
  edgespec bench transplant [--quick] [--json]
  edgespec bench retrieval [--quick] [--docs N] [--json]
  edgespec bench load [--url http://127.0.0.1:PORT] [--requests 50] [--malformed 10] [--max-tokens 64] [--json]
  edgespec bench webgpu [--shape smollm2-135m] [--dtype f32,q8_0,q4_0,f16] [--rounds N] [--decode-tokens N]
                        [--prefill-tokens N] [--threads N] [--model DIR] [--no-greedy] [--greedy-only]
                        [--require-hardware] [--quick] [--json]

generate prints the generated text (not the prompt) as it is produced; --stats adds timings
on stderr; --json prints one object {"text", "tokens", "finish_reason", "stats"} at the end.
Greedy by default (--temperature 0); a seed reproduces a sampled run. Decoding starts from
BOS (when the tokenizer adds one) plus the prompt; --chat sends the prompt as a user message
through the model's chat template. --regex / --json-schema constrain the output (AWRS).
--drafter turns on speculative decoding: the same output (greedy) or the same distribution
(sampling), several tokens per forward; the draft budget defaults to the measured cost of
verifying a tree on this machine.
A llama2.c checkpoint needs --tokenizer tokenizer.bin.
--backend: wasm (the default); webgpu (in Node through the optional \`webgpu\` package: npm install
webgpu); auto: WebGPU when there is one and it decodes this model faster, else wasm (--stats says
which and why). On WebGPU, --beams / --momentum / --first-finish and early-exit drafters refuse.
serve answers OpenAI-compatible POST /v1/completions and /v1/chat/completions (SSE with
"stream": true), GET /v1/models and /healthz, as the Cloudflare Worker does.
embed / index build / search: learned sparse retrieval (SPLADE, DupMAE) with an exact
impact-scored index; docs.jsonl has one {"id", "text"} object per line (id optional).
transplant writes the base model with the donor's tokenizer (embed_tokens and lm_head rebuilt
by Orthogonal Matching Pursuit over the tokens both share) as a Hugging Face folder; a
llama2.c folder's tokenizer (tok*.bin / tokenizer.bin beside the .bin) is found by itself.

examples:
  edgespec generate --model ../shared/models/tinystories-656k --prompt "Once upon a time" --stats
  edgespec generate --model HuggingFaceTB/SmolLM2-135M-Instruct --dtype q8_0 --chat --prompt "Hi"
  edgespec generate --model ../shared/models/tinystories-656k --drafter recycling --temperature 0.8 --seed 7
  echo "Tell me a story" | edgespec chat --model <dir with a chat template> --json
  edgespec serve --model ../shared/models/tinystories-656k --port 8787
  edgespec index build --model <splade dir> --input docs.jsonl --out idx && edgespec search --index idx --query "cats"
  edgespec transplant --base ../shared/models/stories260K --donor ../shared/models/tinystories-656k --k 8 --out /tmp/s260-ts
  edgespec bench spec --quick --json

exit codes: 0 done, 1 bad model / input / file (the message names it), 2 bad command line,
70 a bug in edgespec (the message has its stack; please report it).`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${HELP}\n`);
    return command ? 0 : 2;
  }
  if (command === "generate") return generateCommand(rest);
  if (command === "chat") return chatCommand(rest);
  if (command === "transplant") return transplantCommand(rest);
  if (command === "serve") return serveCommand(rest);
  if (command === "embed") return embedCommand(rest);
  if (command === "index") return indexCommand(rest);
  if (command === "search") return searchCommand(rest);
  if (command === "convert") return convertCommand(rest);
  if (command === "bench") {
    const [what, ...args] = rest;
    if (what === "decode") return benchDecode(args);
    if (what === "peers") return benchPeers(args);
    if (what === "spec") return benchSpec(args);
    if (what === "transplant") return benchTransplant(args);
    if (what === "retrieval") return benchRetrieval(args);
    if (what === "load") return benchLoad(args);
    if (what === "webgpu") return benchWebgpu(args);
    throw new UsageError(`unknown benchmark ${JSON.stringify(what ?? "")}; available: decode, peers, spec, transplant, retrieval, load, webgpu`);
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)}`);
}

// `edgespec generate ... | head` closes the pipe early: stop quietly, as Unix tools do
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`edgespec: ${e.message}\n\n${HELP}\n`);
      process.exitCode = 2;
    } else if (e instanceof EdgespecError || (e instanceof Error && e.name.endsWith("Error") && !(e instanceof TypeError) && !(e instanceof RangeError))) {
      // our errors name the file, tensor or option at fault: the message is the report
      process.stderr.write(`edgespec: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`edgespec: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 70;
    }
  },
);
