// The checkout's root folder, from a script compiled to dist/scripts/.
import { resolve } from "node:path";

export const ROOT = resolve(__dirname, "..", "..");
