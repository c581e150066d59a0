// The lecture's published numbers (Hung-yi Lee, ML 2021 lecture 1), read at run
// time from data/lecture-ml2021.json in this repository. They were measured on the
// lecturer's YouTube channel views, a series that was never published: show them
// beside ours, labelled as the lecture's, never as a target our data must hit.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { findUp } from "./find-up";

/** A training / test loss pair, in thousands of views (k). */
export interface LossPair {
  train_L: number;
  test_L: number;
}

export interface LectureReference {
  source: string;
  setup: {
    target: string;
    train_period: [string, string];
    test_period_plotted: [string, string];
    loss: string;
    dataset_public: boolean;
  };
  worked_example: { b: number; w: number; x1_2017_01_01: number; label_2017_01_02: number; prediction: number; e1: number; e2: number; unit: string };
  linear_1_day: { b: number; w: number } & LossPair;
  linear_by_days: ({ days: number } & LossPair)[];
  /** w[j-1] multiplies the views j days before (w[0]: yesterday). */
  linear_7_day_weights: { b: number; w: number[]; note: string };
  width_relu_56_days: ({ model: string } & LossPair)[];
  depth_relu_100_per_layer_56_days: ({ layers: number } & LossPair)[];
  follow_up: { five_layers_train_L: number; note: string };
  remarks: string[];
}

/** How tables and plots name the lecture's numbers. */
export const LECTURE_LABEL = "lecture (its YouTube channel data)";

const FILE = join("data", "lecture-ml2021.json");

/**
 * The repository root: the nearest folder above `from` holding data/lecture-ml2021.json.
 * Works from lib/ (tests run the sources) and from dist/lib/ (notebooks run the build).
 */
function findRoot(from: string): string {
  return findUp(from, (dir) => existsSync(join(dir, FILE)), () => `lectureReference: ${FILE} not found in any folder above ${from}`);
}

let cached: LectureReference | undefined;

/** The lecture's numbers, typed. `path` overrides the file (tests). */
export function lectureReference(path?: string): LectureReference {
  if (path === undefined && cached) return cached;
  const file = path ?? join(findRoot(__dirname), FILE);
  const ref = JSON.parse(readFileSync(file, "utf8")) as LectureReference;
  if (!Array.isArray(ref.linear_by_days) || typeof ref.linear_1_day?.w !== "number")
    throw new Error(`lectureReference: ${file} does not look like the lecture's reference numbers`);
  if (path === undefined) cached = ref;
  return ref;
}

/** The lecture's row for a k-day linear model, or undefined when it reports none. */
export function lectureLinear(days: number): LossPair | undefined {
  return lectureReference().linear_by_days.find((r) => r.days === days);
}
