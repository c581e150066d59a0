// `npm run phi2 -- --model DIR --prompt TEXT --max-length N`: run phi-2 (or any phi
// model directory) greedily, streaming the text, then print the timings.
// `--json`: print only one JSON object {input_ids, output_ids, text, load_s, prefill_s, decode_tokens_per_s}.
// A load over 1 s shows a progress bar on stderr (lib/progress; `--no-progress`: none).
import * as path from "node:path";
import { ARTICLE_PROMPT, defaultPhi2Dir, generateText, loadPhi, MAX_CONFIG_DIM, ThreadsError, type BackendKind, type HoldDtype, type ImageUse, type PhiConfig } from "../lib/phi2";
import { withProgress } from "../lib/progress";
import { ArgsError, defineCli, NO_PROGRESS_FLAG, runCli, type Io, type Values, exitWith } from "./args";
import { ROOT } from "./root";

const LENGTH_NOTE = "the real limit is the model's max_position_embeddings (phi-2: 2048), checked against its config.json";

export const CLI = defineCli({
  program: "phi2",
  usage: "Usage: npm run phi2 -- [--model DIR] [--prompt TEXT] [--max-length N | --max-new-tokens N] [options]",
  summary: "Run phi-2 (or any phi model directory) greedily, streaming the text, then print the timings.",
  flags: {
    model: { type: "string", metavar: "DIR", help: "a phi model directory (default $PHI2_DIR or data/models/phi-2)" },
    prompt: { type: "string", metavar: "TEXT", help: `the prompt (default: the article's "${ARTICLE_PROMPT}")` },
    "max-length": { type: "integer", min: 1, max: MAX_CONFIG_DIM, limitNote: LENGTH_NOTE, help: "total tokens counting the prompt, as transformers' max_length (default 200)" },
    "max-new-tokens": { type: "integer", min: 1, max: MAX_CONFIG_DIM, limitNote: LENGTH_NOTE, help: "new tokens instead of --max-length" },
    backend: { type: "enum", choices: ["auto", "js", "wasm"], default: "auto", help: "auto: the wasm kernels if built, else js" },
    threads: { type: "integer", min: 1, max: 1024, limitNote: "the wasm kernels state their own limit", help: "compute threads for the wasm backend: the main thread and N − 1 workers (default: all cores)" },
    dtype: { type: "enum", choices: ["fp16", "fp32", "q8"], default: "fp16", help: "how the weights are held: fp16 (as published), fp32, or q8 (int8, quantized at load)" },
    image: {
      type: "string", metavar: "FILE",
      help: "a weight image (wasm backend): the weights as held, read from FILE when it holds this model and --dtype, else loaded from the model and written there for the next run",
    },
    "image-map": { type: "boolean", help: "map the image with mmap instead of reading it (fast to load; decoding from the mapped pages measured 2–11× slower on the course's CI machine)" },
    json: { type: "boolean", help: "print one JSON object {input_ids, output_ids, text, load_s, prefill_s, decode_tokens_per_s, …} instead of streaming" },
    "no-progress": NO_PROGRESS_FLAG,
  },
});

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
  image?: string;
  imageMap: boolean;
  json: boolean;
  progress: boolean;
}

const DTYPES: Record<string, HoldDtype> = { fp16: "stored", fp32: "F32", q8: "Q8_0" };

/** The checked flags (throws ArgsError). */
export function argsOf(values: Values<typeof CLI.flags>): Args {
  const maxLength = values["max-length"];
  const maxNewTokens = values["max-new-tokens"];
  if (maxLength !== undefined && maxNewTokens !== undefined) throw new ArgsError("give --max-length or --max-new-tokens, not both", "--max-length");
  if (values.image !== undefined && values.backend === "js") throw new ArgsError("--image needs the wasm backend: a weight image holds the wasm kernels' layout", "--image");
  if (values["image-map"] && values.image === undefined) throw new ArgsError("--image-map needs --image FILE", "--image-map");
  return {
    model: values.model ?? defaultPhi2Dir(ROOT),
    prompt: values.prompt ?? ARTICLE_PROMPT,
    maxLength: maxLength ?? (maxNewTokens === undefined ? 200 : undefined),
    maxNewTokens,
    maxLengthIsDefault: maxLength === undefined && maxNewTokens === undefined,
    backend: values.backend as BackendKind,
    threads: values.threads,
    hold: DTYPES[values.dtype]!,
    image: values.image,
    imageMap: values["image-map"],
    json: values.json,
    progress: !values["no-progress"],
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
  if (promptTokens === 0) throw new ArgsError("--prompt is empty: phi-2 has no start token to generate from; give a prompt of at least one token");
  if (promptTokens >= max) throw new ArgsError(`--prompt is ${promptTokens} tokens; ${limit} leaves no room for a new token (at most ${max - 1} prompt tokens)`);
  if (a.maxLength !== undefined) {
    if (a.maxLength > max) throw new ArgsError(`--max-length ${a.maxLength} exceeds ${limit}: prompt and new tokens must fit in ${max} positions`);
    if (promptTokens >= a.maxLength) {
      throw new ArgsError(
        `--prompt is ${promptTokens} tokens, which leaves no room for new tokens under ${lengthFlag}: ` +
          `raise --max-length (at most ${max}) or give --max-new-tokens N (at most ${max - promptTokens})`,
      );
    }
    return a.maxLength;
  }
  const n = a.maxNewTokens!;
  if (promptTokens + n > max) {
    throw new ArgsError(`--max-new-tokens ${n} with a ${promptTokens}-token prompt needs ${promptTokens + n} positions, more than ${limit}: at most ${max - promptTokens} new tokens`);
  }
  return promptTokens + n;
}

/**
 * Write the weight image a load did not use (image.save), with a progress bar on stderr
 * (bytes); the seconds it took, or null when there was nothing to write.
 */
export async function saveImageShowing(image: ImageUse | undefined, showProgress: boolean): Promise<number | null> {
  if (!image?.save) return null;
  const save = image.save;
  return withProgress({ label: "weight image", enabled: showProgress }, (bar) => save(bar && ((done, total) => bar(done, total, total))));
}

/** One line for a run's log: how the weights came from the image, or that it was written and why. */
export function imageLine(image: ImageUse, writeSeconds: number | null): string {
  if (image.used) return image.note;
  return `${image.file} written in ${(writeSeconds ?? 0).toFixed(1)} s, not counted in the load (${image.note}): the next run reads it`;
}

export async function main(argv: string[], io?: Io): Promise<number> {
  return runCli(CLI, argv, (p) => run(argsOf(p.values)), io, "npm run phi2 -- --help");
}

async function run(a: Args): Promise<number> {
  if (a.threads !== undefined && a.backend === "js") console.error(`phi2: --threads ${a.threads} is ignored: the js backend runs on 1 thread`);
  let loaded;
  try {
    // the bar on stderr: --json keeps stdout one JSON object
    loaded = await withProgress({ label: "weights", enabled: a.progress }, (onProgress) =>
      loadPhi(a.model, {
        backend: a.backend,
        threads: a.threads,
        hold: a.hold,
        beforeWeights: (config, tokenizer) => checkLengths(a, config, tokenizer.encode(a.prompt).length, path.join(a.model, "config.json")),
        onFallback: (why) => console.error(`phi2: ${why}`),
        onProgress,
        image: a.image,
        mapImage: a.imageMap,
      }),
    );
  } catch (e) {
    if (e instanceof ArgsError) throw e; // a flag against the model's limits: runCli prints it, exit 2
    if (e instanceof ThreadsError) {
      console.error(`phi2: --${e.message}`);
      return 2;
    }
    console.error(`phi2: ${(e as Error).message}`);
    return 1;
  }
  const { model, tokenizer, loadSeconds, image } = loaded;
  try {
    const writeSeconds = await saveImageShowing(image, a.progress);
    if (!a.json) {
      console.error(`loaded ${a.model} in ${loadSeconds.toFixed(2)} s (${model.backend.name})`);
      if (image) console.error(`weight image: ${imageLine(image, writeSeconds)}`);
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
        ...(image ? { image_file: image.file, image_used: image.used, image_note: image.note, image_write_s: writeSeconds } : {}),
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

if (require.main === module) exitWith(main(process.argv.slice(2)));
