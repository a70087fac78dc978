// The chat page at / in headless Chromium (Debian's `chromium`, driven by playwright-core):
// load it, attach an image through the file picker and by pasting, send a prompt, watch the
// answer stream in, stop a long answer. Keeps a screenshot at $DSVL_SCREENSHOT if set.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { BASE, FAKE, KEY, gradient } from "./common.mjs";

let browser, page;
const tmp = mkdtempSync(join(tmpdir(), "dsvl-page-"));

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions"],
  });
  page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  page.on("pageerror", (e) => { throw e; });
});

after(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test("loads, reports the model, sends an image and streams the answer", async () => {
  await page.goto(BASE + "/");
  if (KEY) {
    await page.fill("#api-key", KEY);
    await page.dispatchEvent("#api-key", "change");
  }
  await page.waitForSelector("#status.ok", { timeout: 30000 });
  const png = join(tmp, "gradient.png");
  writeFileSync(png, gradient());
  await page.setInputFiles("#file", png);
  await page.waitForSelector("#attachments .thumb img");
  await page.fill("#max-tokens", "128");
  await page.fill("#prompt", "What is in this picture?");
  // Count how often the answer's text changes while it streams.
  await page.evaluate(() => {
    window.__updates = 0;
    new MutationObserver(() => window.__updates++).observe(document.getElementById("messages"),
      { subtree: true, characterData: true, childList: true });
  });
  await page.click("#send");
  await page.waitForSelector(".msg.user img");
  const bubble = page.locator(".msg.assistant").last();
  await bubble.locator(".meta").waitFor({ timeout: 120000 });
  const answer = await bubble.locator(".text").textContent();
  const meta = await bubble.locator(".meta").textContent();
  assert.ok(answer.length > 0 || meta.includes("0 tokens"), "an answer arrived");
  assert.match(meta, /tokens/);
  assert.ok(await page.evaluate(() => window.__updates) > 3, "the answer arrived in pieces");
  if (FAKE) assert.match(answer, /^I see 1 image \(png/);
  assert.equal(await page.locator(".msg.error").count(), 0);
  if (process.env.DSVL_SCREENSHOT) await page.screenshot({ path: process.env.DSVL_SCREENSHOT });
});

test("pasting an image attaches it", async () => {
  const b64 = gradient().toString("base64");
  await page.evaluate((data) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], "pasted.png", { type: "image/png" }));
    const ev = new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true });
    document.getElementById("prompt").dispatchEvent(ev);
  }, b64);
  await page.waitForSelector("#attachments .thumb img");
  await page.click("#attachments .thumb button");
  assert.equal(await page.locator("#attachments .thumb").count(), 0);
});

// A random model may end its answer by itself before Stop is clicked: then try again.
test("the stop button ends a long answer", async () => {
  for (let attempt = 0; attempt < 4; attempt++) {
    await page.fill("#max-tokens", "100000");
    await page.fill("#prompt", "[[count 100000]] Tell me a very long story.");
    const before = await page.locator(".msg.assistant").count();
    await page.click("#send");
    await page.waitForFunction((n) => {
      const all = document.querySelectorAll(".msg.assistant");
      const b = all[all.length - 1];
      return all.length > n &&
             (b.querySelector(".meta") || b.querySelector(".text").textContent.length > 20);
    }, before, { timeout: 60000 });
    const bubble = page.locator(".msg.assistant").last();
    if (await bubble.locator(".meta").count()) continue;  // it ended by itself
    await page.click("#stop", { timeout: 2000 }).catch(() => {});  // hidden: it just ended
    await bubble.locator(".meta").waitFor({ timeout: 10000 });
    const meta = await bubble.locator(".meta").textContent();
    if (!FAKE && !/stopped/.test(meta)) continue;  // it ended just before the click
    assert.match(meta, /stopped/);
    assert.ok(await page.locator("#send").isVisible());
    return;
  }
  assert.fail("every answer ended before Stop could be clicked");
});
