#!/usr/bin/env node
import { runMain } from "../dist/cli/program.js";

await runMain(process.argv.slice(2));
