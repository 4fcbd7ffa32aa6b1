/**
 * edgespec command line.
 *
 *   edgespec generate --model <dir|file|url|org/name> [--tokenizer FILE] [--prompt TEXT]
 *                     [--max-tokens N] [--temperature T] [--seed S] [--dtype f32|f16|q8_0|q4_0] [--json]
 *   edgespec bench decode [--shape smollm2-135m] [--dtype f32,q8_0,q4_0] [--json] [--quick]
 */

import { benchDecode } from "@edgespec/bench/decode";
import { EdgespecError } from "@edgespec/runtime";
import { generateCommand } from "./generate";
import { UsageError } from "./usage";

const HELP = `usage:
  edgespec generate --model <dir|file|url|org/name> [--tokenizer FILE] [--prompt TEXT]
                    [--max-tokens N] [--temperature T] [--seed S] [--dtype f32|f16|q8_0|q4_0]
                    [--context N] [--json]
  edgespec bench decode [--shape smollm2-135m] [--dtype f32,q8_0,q4_0] [--quick] [--json]

generate prints the generated text (not the prompt) as it is produced; --json prints one
object {"text", "tokens", "stats"} at the end. Decoding starts from BOS (when the tokenizer
adds one) plus the prompt; an empty prompt starts from BOS alone.
A llama2.c checkpoint needs --tokenizer tokenizer.bin.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${HELP}\n`);
    return command ? 0 : 2;
  }
  if (command === "generate") return generateCommand(rest);
  if (command === "bench") {
    const [what, ...args] = rest;
    if (what === "decode") return benchDecode(args);
    throw new UsageError(`unknown benchmark ${JSON.stringify(what ?? "")}; available: decode`);
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
