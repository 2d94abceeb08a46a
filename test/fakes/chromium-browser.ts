#!/usr/bin/env bun
/** A `BROWSER` that opens the URL in headless Chromium and clicks through login and consent. */
import { openInChromium } from "./chromium.ts";

const url = process.argv[2];
if (!url) process.exit(2);
const result = await openInChromium(url, { approve: true });
if (process.env.BROWSER_LOG) await Bun.write(process.env.BROWSER_LOG, JSON.stringify(result.visited));
process.exit(0);
