// `npm run phi2 -- --model DIR --prompt TEXT --max-length N`: run phi-2 (or any phi
// model directory) greedily, streaming the text, then print the timings.
// `--json`: print only one JSON object {input_ids, output_ids, text, load_s, prefill_s, decode_tokens_per_s}.
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ARTICLE_PROMPT, defaultPhi2Dir, generateText, loadPhi, ThreadsError, type BackendKind, type HoldDtype, type PhiConfig } from "../lib/phi2";
import { ROOT } from "./root";


const HELP = `usage: npm run phi2 -- [--model DIR] [--prompt TEXT] [--max-length N | --max-new-tokens N]
                      [--backend auto|js|wasm] [--threads N] [--dtype fp16|fp32|q8] [--json]
  --model DIR         a phi model directory (default $PHI2_DIR or data/models/phi-2)
  --prompt TEXT       default: the article's "${ARTICLE_PROMPT}"
  --max-length N      total tokens counting the prompt, as transformers' max_length (default 200)
  --max-new-tokens N  new tokens instead
  --backend KIND      auto (default: wasm kernels if built, else js), js, wasm
  --threads N         worker threads for the wasm backend (default: all cores)
  --dtype D           how the weights are held: fp16 (default: as published), fp32, or q8 (int8, quantized at load)
  --json              print one JSON object instead of streaming`;

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${name} must be a positive integer, got "${v}"`);
  return Number(v);
}

export class UsageError extends Error {}

interface Args {
  model: string;
  prompt: string;
  maxLength?: number;
  maxNewTokens?: number;
  /** True when --max-length is the default 200 (no length flag given). */
  maxLengthIsDefault: boolean;
  backend: BackendKind;
  threads?: number;
  hold: HoldDtype;
  json: boolean;
}

const DTYPES: Record<string, HoldDtype> = { fp16: "stored", fp32: "F32", q8: "Q8_0" };

export function parse(argv: string[]): Args | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: "string" },
        prompt: { type: "string" },
        "max-length": { type: "string" },
        "max-new-tokens": { type: "string" },
        backend: { type: "string" },
        threads: { type: "string" },
        dtype: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return "help";
  const backend = values.backend ?? "auto";
  if (backend !== "auto" && backend !== "js" && backend !== "wasm") throw new UsageError(`--backend must be auto, js or wasm, got "${backend}"`);
  const dtype = values.dtype ?? "fp16";
  const hold = Object.hasOwn(DTYPES, dtype) ? DTYPES[dtype] : undefined;
  if (!hold) throw new UsageError(`--dtype must be fp16, fp32 or q8, got "${values.dtype}"`);
  const maxLength = positiveInt("--max-length", values["max-length"]);
  const maxNewTokens = positiveInt("--max-new-tokens", values["max-new-tokens"]);
  if (maxLength !== undefined && maxNewTokens !== undefined) throw new UsageError("give --max-length or --max-new-tokens, not both");
  return {
    model: values.model ?? defaultPhi2Dir(ROOT),
    prompt: values.prompt ?? ARTICLE_PROMPT,
    maxLength: maxLength ?? (maxNewTokens === undefined ? 200 : undefined),
    maxNewTokens,
    maxLengthIsDefault: maxLength === undefined && maxNewTokens === undefined,
    backend,
    threads: positiveInt("--threads", values.threads),
    hold,
    json: values.json ?? false,
  };
}

/**
 * The length flags against the model's max_position_embeddings and the prompt's
 * length in tokens (known once the tokenizer is loaded, before any weight is read).
 * Returns the positions the KV cache must hold.
 */
export function checkLengths(a: Pick<Args, "maxLength" | "maxNewTokens" | "maxLengthIsDefault">, config: PhiConfig, promptTokens: number, configFile: string): number {
  const max = config.maxPositions;
  const limit = `the model's max_position_embeddings ${max} (${configFile})`;
  const lengthFlag = `--max-length ${a.maxLength}${a.maxLengthIsDefault ? " (the default)" : ""}`;
  if (promptTokens === 0) throw new UsageError("--prompt is empty: phi-2 has no start token to generate from; give a prompt of at least one token");
  if (promptTokens >= max) throw new UsageError(`--prompt is ${promptTokens} tokens; ${limit} leaves no room for a new token (at most ${max - 1} prompt tokens)`);
  if (a.maxLength !== undefined) {
    if (a.maxLength > max) throw new UsageError(`--max-length ${a.maxLength} exceeds ${limit}: prompt and new tokens must fit in ${max} positions`);
    if (promptTokens >= a.maxLength) {
      throw new UsageError(
        `--prompt is ${promptTokens} tokens, which leaves no room for new tokens under ${lengthFlag}: ` +
          `raise --max-length (at most ${max}) or give --max-new-tokens N (at most ${max - promptTokens})`,
      );
    }
    return a.maxLength;
  }
  const n = a.maxNewTokens!;
  if (promptTokens + n > max) {
    throw new UsageError(`--max-new-tokens ${n} with a ${promptTokens}-token prompt needs ${promptTokens + n} positions, more than ${limit}: at most ${max - promptTokens} new tokens`);
  }
  return promptTokens + n;
}

export async function main(argv: string[]): Promise<number> {
  let args: Args | "help";
  try {
    args = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`phi2: ${e.message}\n${HELP}`);
    return 2;
  }
  if (args === "help") {
    console.log(HELP);
    return 0;
  }
  const a = args;
  if (a.threads !== undefined && a.backend === "js") console.error(`phi2: --threads ${a.threads} is ignored: the js backend runs on 1 thread`);
  let loaded;
  try {
    loaded = await loadPhi(a.model, {
      backend: a.backend,
      threads: a.threads,
      hold: a.hold,
      beforeWeights: (config, tokenizer) => checkLengths(a, config, tokenizer.encode(a.prompt).length, path.join(a.model, "config.json")),
      onFallback: (why) => console.error(`phi2: ${why}`),
    });
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`phi2: ${e.message}`);
      return 2;
    }
    if (e instanceof ThreadsError) {
      console.error(`phi2: --${e.message}`);
      return 2;
    }
    console.error(`phi2: ${(e as Error).message}`);
    return 1;
  }
  const { model, tokenizer, loadSeconds } = loaded;
  try {
    if (!a.json) {
      console.error(`loaded ${a.model} in ${loadSeconds.toFixed(2)} s (${model.backend.name})`);
      process.stdout.write(a.prompt);
    }
    const r = await generateText(model, tokenizer, a.prompt, { maxLength: a.maxLength, maxNewTokens: a.maxNewTokens }, a.json ? undefined : (s) => process.stdout.write(s));
    const inputIds = r.promptIds;
    const text = r.text;
    if (a.json) {
      const out = {
        input_ids: inputIds,
        output_ids: r.ids,
        text,
        load_s: loadSeconds,
        prefill_s: r.prefillSeconds,
        decode_tokens_per_s: Number.isFinite(r.decodeTokensPerSecond) ? r.decodeTokensPerSecond : null,
        new_tokens: r.newIds.length,
        total_s: r.totalSeconds,
        backend: model.backend.name,
        dtype: a.hold,
      };
      console.log(JSON.stringify(out));
    } else {
      process.stdout.write("\n");
      console.log(
        `\nload ${loadSeconds.toFixed(2)} s · prefill ${inputIds.length} tokens ${r.prefillSeconds.toFixed(2)} s · ` +
          `${r.newIds.length} new tokens in ${r.totalSeconds.toFixed(2)} s · decode ${r.decodeTokensPerSecond.toFixed(2)} tokens/s · ${model.backend.name}`,
      );
    }
    return 0;
  } catch (e) {
    console.error(`phi2: ${(e as Error).message}`);
    return 1;
  } finally {
    await model.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    },
  );
}
