// Shared by the e2e suite, the page test and the load test: where the server is, and small
// PNG images made here (no binary fixtures).
import OpenAI from "openai";
import { deflateSync } from "node:zlib";

export const BASE = process.env.DSVL_URL || "http://127.0.0.1:8080";
export const KEY = process.env.DSVL_API_KEY || "";
export const FAKE = process.env.DSVL_FAKE === "1";  // the server runs `--fake`
export const MAX_BODY_MB = Number(process.env.DSVL_MAX_BODY_MB || 4);

export function client(apiKey = KEY || "none") {
  return new OpenAI({ baseURL: BASE + "/v1", apiKey, maxRetries: 0, timeout: 600_000 });
}

export function authHeaders() {
  return KEY ? { Authorization: "Bearer " + KEY } : {};
}

export async function postJSON(path, body, headers = {}) {
  const r = await fetch(BASE + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders(), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

// An RGB PNG of size w×h whose pixels come from color(x, y) → [r, g, b].
export function makePng(w, h, color) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;  // bit depth
  ihdr[9] = 2;  // RGB
  const raw = Buffer.alloc(h * (1 + 3 * w));
  for (let y = 0; y < h; y++) {
    raw[y * (1 + 3 * w)] = 0;  // filter: none
    for (let x = 0; x < w; x++) raw.set(color(x, y), y * (1 + 3 * w) + 1 + 3 * x);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0)),
  ]);
}

export const redSquare = () => makePng(32, 32, () => [220, 30, 30]);
export const gradient = () => makePng(48, 32, (x, y) => [x * 5, y * 7, 128]);
export const dataUrl = (png) => "data:image/png;base64," + png.toString("base64");

export async function modelInfo() {
  const r = await fetch(BASE + "/v1/models", { headers: authHeaders() });
  return (await r.json()).data[0];
}

export async function metric(name) {
  const text = await (await fetch(BASE + "/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.split(" ")[1]) : NaN;
}
