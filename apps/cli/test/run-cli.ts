/** The built `edgespec` CLI as a child process, for the CLI tests. */
import { spawn } from "node:child_process";
import { resolve } from "node:path";

export const CLI = resolve(__dirname, "../dist/main.js");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<Run> {
  return runNode(CLI, args, env, stdin);
}

/** A Node script as a child process, its output collected. */
export function runNode(script: string, args: string[], env: Record<string, string> = {}, stdin?: string): Promise<Run> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env } });
    if (stdin !== undefined) p.stdin.end(stdin);
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => {
      stdout += d;
    });
    p.stderr.on("data", (d) => {
      stderr += d;
    });
    p.on("error", fail);
    p.on("close", (code) => done({ code, stdout, stderr }));
  });
}
