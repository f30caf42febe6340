// The genziqa web page: plain JavaScript, no framework, no build step, nothing from a CDN.
// It sends each image to POST /v1/explain (or /v1/score when the model has no heatmaps),
// shows its score and heatmap, and keeps a sortable table of every result with a CSV export.
"use strict";

const CONCURRENT_UPLOADS = 4; // the service batches concurrent requests together
const DISPLAY_SIDE = 512; // maps and overlays are shrunk to this for display
const MAX_RETRIES = 5; // for 503 (busy) answers, honouring Retry-After

// magma, 17 stops (perceptually uniform; dark = low, light = high contribution)
const MAGMA = [
  "000004", "0a0822", "1d1147", "36106b", "51127c", "6a1c81", "832681", "9c2e7f", "b73779",
  "d0416f", "e75263", "f56b5c", "fc8961", "fea772", "fec488", "fde2a3", "fcfdbf",
].map((hex) => [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)));

const state = {
  model: null,
  explain: false,
  key: sessionStorage.getItem("genziqa-key") || "",
  results: [], // {index, name, score, status, error, card}
  sort: { key: "index", dir: 1 },
  queue: [],
  running: 0,
  next: 0,
};

const $ = (selector, root = document) => root.querySelector(selector);

// ------------------------------------------------------------------------------- service

function headers() {
  return state.key ? { Authorization: `Bearer ${state.key}` } : {};
}

async function connect() {
  const box = $("#model");
  let response;
  try {
    response = await fetch("/v1/model", { headers: headers() });
  } catch (error) {
    box.textContent = "Cannot reach the service; retrying…";
    setTimeout(connect, 2000);
    return;
  }
  if (response.status === 401) {
    box.textContent = "This service needs an API key.";
    $("#key-form").hidden = false;
    return;
  }
  if (response.status === 503) {
    box.textContent = "The model is loading…";
    setTimeout(connect, 1000);
    return;
  }
  if (!response.ok) {
    box.textContent = `The service answered ${response.status}.`;
    return;
  }
  $("#key-form").hidden = true;
  state.model = await response.json();
  state.explain = state.model.explain;
  renderModel();
  pump();
}

function renderModel() {
  const m = state.model;
  const box = $("#model");
  box.replaceChildren();
  box.append("Model ");
  const name = document.createElement("strong");
  name.textContent = m.name;
  box.append(name, " · fingerprint ");
  const fp = document.createElement("code");
  fp.textContent = m.fingerprint.slice(0, 12);
  fp.title = m.fingerprint;
  box.append(fp, ` · ${m.resolution} px · ${m.device}`);
  if (m.label) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = m.label;
    box.append(badge);
  }
  if (!m.explain) showHeatNote("Heatmaps are not available for this model; scores only.");
}

function showHeatNote(text) {
  const note = $("#heat-note");
  note.textContent = text;
  note.hidden = false;
}

async function post(path, file) {
  const form = new FormData();
  form.append("files", file, file.name);
  return fetch(path, { method: "POST", body: form, headers: headers() });
}

async function scoreFile(file) {
  for (let attempt = 0; ; attempt++) {
    const path = state.explain
      ? `/v1/explain?layers=true&max_side=${DISPLAY_SIDE}`
      : "/v1/score";
    let response;
    try {
      response = await post(path, file);
    } catch (error) {
      return { error: "the service could not be reached (network error)" };
    }
    if (response.status === 501 && state.explain) {
      state.explain = false;
      const body = await response.json().catch(() => ({}));
      showHeatNote(`Heatmaps are not available: ${body.error ? body.error.message : ""}`);
      continue;
    }
    if (response.status === 503 && attempt < MAX_RETRIES) {
      const wait = Number(response.headers.get("Retry-After") || "1");
      await new Promise((done) => setTimeout(done, Math.max(wait, 0.2) * 1000));
      continue;
    }
    const body = await response.json().catch(() => null);
    if (body && body.results && body.results.length) return { row: body.results[0] };
    if (body && body.error) return { error: body.error.message };
    return { error: `the service answered ${response.status}` };
  }
}

// ------------------------------------------------------------------------------- uploads

function addFiles(files) {
  for (const file of files) {
    const entry = {
      index: state.results.length + 1,
      name: file.name,
      score: null,
      status: "pending",
      error: "",
      card: makeCard(file),
    };
    state.results.push(entry);
    state.queue.push({ file, entry });
  }
  renderTable();
  pump();
}

function pump() {
  if (!state.model) return;
  while (state.running < CONCURRENT_UPLOADS && state.queue.length) {
    const job = state.queue.shift();
    state.running++;
    scoreFile(job.file)
      .then((outcome) => finish(job.entry, outcome))
      .finally(() => {
        state.running--;
        pump();
      });
  }
}

function finish(entry, outcome) {
  const row = outcome.row;
  if (row && row.status === "ok") {
    entry.score = row.score;
    entry.status = "ok";
    showScore(entry, row);
  } else {
    entry.status = "error";
    entry.error = row ? row.error : outcome.error;
    showError(entry);
  }
  renderTable();
}

// --------------------------------------------------------------------------------- cards

function makeCard(file) {
  const card = $("#card-template").content.firstElementChild.cloneNode(true);
  $(".name", card).textContent = file.name;
  $(".name", card).title = file.name;
  const img = $(".photo", card);
  img.alt = file.name;
  img.src = URL.createObjectURL(file);
  img.addEventListener("error", () => img.classList.add("broken"));
  $("#cards").append(card);
  $("#results").hidden = false;
  return card;
}

function showScore(entry, row) {
  const card = entry.card;
  const line = $(".score", card);
  line.replaceChildren();
  const value = document.createElement("strong");
  value.textContent = row.score.toFixed(4);
  value.title = String(row.score);
  const by = document.createElement("span");
  by.className = "by";
  by.textContent = `by ${state.model.name}${state.model.label ? ` · ${state.model.label}` : ""}`;
  line.append("score ", value, by);
  if (row.map) showHeat(card, row);
}

function showError(entry) {
  const card = entry.card;
  card.classList.add("failed");
  $(".score", card).textContent = "could not be scored";
  const message = $(".error", card);
  message.textContent = entry.error;
  message.hidden = false;
}

function showHeat(card, row) {
  const maps = { "": row.map, ...(row.layers || {}) };
  const canvas = $(".heat", card);
  const select = $(".layer", card);
  const opacity = $(".opacity", card);
  select.replaceChildren();
  for (const name of Object.keys(maps)) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name === "" ? "all layers" : name;
    select.append(option);
  }
  const draw = () => drawMap(canvas, decodeNpy(maps[select.value]));
  select.addEventListener("change", draw);
  opacity.addEventListener("input", () => {
    canvas.style.opacity = String(opacity.value / 100);
  });
  canvas.style.opacity = String(opacity.value / 100);
  draw();
  canvas.hidden = false;
  const link = $(".overlay-link", card);
  link.href = `data:image/png;base64,${row.overlay_png}`;
  link.download = `${row.name.replace(/\.[^.]*$/, "")}.overlay.png`;
  $(".controls", card).hidden = false;
}

// A .npy file (base64): "\x93NUMPY", version, header length, a Python-dict header, the data.
function decodeNpy(encoded) {
  const bytes = Uint8Array.from(atob(encoded.npy_b64), (c) => c.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = (major === 1 ? 10 : 12) + headerLength;
  const header = new TextDecoder().decode(bytes.subarray(major === 1 ? 10 : 12, start));
  if (!header.includes("'<f2'")) throw new Error(`unexpected map dtype in ${header}`);
  const [height, width] = encoded.shape;
  const values = new Float32Array(width * height);
  for (let i = 0; i < values.length; i++) values[i] = half(view.getUint16(start + 2 * i, true));
  return { width, height, values };
}

function half(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

// Relative scale: each map's own minimum -> darkest, maximum -> lightest.
function drawMap(canvas, map) {
  canvas.width = map.width;
  canvas.height = map.height;
  let low = Infinity;
  let high = -Infinity;
  for (const v of map.values) {
    if (Number.isFinite(v)) {
      if (v < low) low = v;
      if (v > high) high = v;
    }
  }
  const span = high > low ? high - low : 1;
  const image = canvas.getContext("2d").createImageData(map.width, map.height);
  for (let i = 0; i < map.values.length; i++) {
    const v = map.values[i];
    const t = Number.isFinite(v) ? (v - low) / span : 0;
    const [r, g, b] = magma(t);
    image.data.set([r, g, b, 255], 4 * i);
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
}

function magma(t) {
  const x = Math.min(Math.max(t, 0), 1) * (MAGMA.length - 1);
  const i = Math.min(Math.floor(x), MAGMA.length - 2);
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(MAGMA[i][c] * (1 - f) + MAGMA[i + 1][c] * f));
}

// --------------------------------------------------------------------------------- table

function renderTable() {
  const { key, dir } = state.sort;
  const rows = [...state.results].sort((a, b) => compare(a[key], b[key], dir));
  const body = $("#table tbody");
  body.replaceChildren(
    ...rows.map((entry) => {
      const tr = document.createElement("tr");
      if (entry.status === "error") tr.className = "error";
      const cells = [
        entry.index,
        entry.name,
        entry.score === null ? "" : entry.score.toFixed(4),
        entry.status,
        entry.error,
      ];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = String(text);
        if (i === 0 || i === 2) td.className = "num";
        tr.append(td);
      });
      return tr;
    }),
  );
  for (const th of document.querySelectorAll("#table th")) {
    th.setAttribute(
      "aria-sort",
      th.dataset.key === key ? (dir > 0 ? "ascending" : "descending") : "none",
    );
  }
}

// Ascending (dir 1) or descending (dir -1); empty values (no score) last either way.
function compare(a, b, dir) {
  const emptyA = a === null || a === "";
  const emptyB = b === null || b === "";
  if (emptyA || emptyB) return emptyA === emptyB ? 0 : emptyA ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return dir * (a - b);
  return dir * String(a).localeCompare(String(b), undefined, { numeric: true });
}

function csvField(value) {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function downloadCsv() {
  const m = state.model || { name: "", fingerprint: "" };
  const lines = [["name", "score", "status", "error", "model", "fingerprint"].join(",")];
  for (const entry of state.results) {
    // String(score) is the shortest text that reads back as the same double.
    const score = entry.score === null ? "" : String(entry.score);
    const fields = [entry.name, score, entry.status, entry.error, m.name, m.fingerprint];
    lines.push(fields.map(csvField).join(","));
  }
  const blob = new Blob([`${lines.join("\r\n")}\r\n`], { type: "text/csv" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "genziqa-scores.csv";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// ---------------------------------------------------------------------------------- wire

function main() {
  const drop = $("#drop");
  const input = $("#files");
  input.addEventListener("change", () => {
    addFiles(input.files);
    input.value = "";
  });
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") input.click();
  });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    addFiles(event.dataTransfer.files);
  });
  for (const th of document.querySelectorAll("#table th")) {
    th.addEventListener("click", () => {
      const key = th.dataset.key;
      state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : key === "score" ? -1 : 1 };
      renderTable();
    });
  }
  $("#csv").addEventListener("click", downloadCsv);
  $("#clear").addEventListener("click", () => {
    state.results = [];
    state.queue = [];
    $("#cards").replaceChildren();
    $("#results").hidden = true;
    renderTable();
  });
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.key = $("#key").value.trim();
    sessionStorage.setItem("genziqa-key", state.key);
    connect();
  });
  connect();
}

main();
