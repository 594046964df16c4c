// The example page: signing in (when the service has auth), a live list of entities with a form
// to create and edit them over the WebSocket and, when rooms are on, a chat room and its members.
import { RealtimeClient } from "./realtime.js";

const config = JSON.parse(document.getElementById("config").textContent);
const $ = (selector) => document.querySelector(selector);
// The protocol has no membership event: the member list is asked for again on join, after each
// message from the room, and on this timer while the page is visible.
const MEMBERS_EVERY = 5000; // milliseconds
const entities = new Map();
let client = null; // the signed-in session's client; null while signed out
let connected = false;
let editing = null; // the entity being edited, or null when creating
let chat = null; // the room joined to chat in, or null

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

function showStatus(text, state) {
  $("#status").textContent = text;
  $("#status").dataset.state = state;
}

// Signing in and out.

// What the service says of `token`: "ok", "refused" (401/403, with its reason) or "unknown"
// when it cannot be asked (then the WebSocket's own retries find out when it is back).
async function checkToken(token) {
  let response;
  try {
    response = await fetch(`/api/${config.plural}?limit=1`, { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    return { verdict: "unknown" };
  }
  if (response.status !== 401 && response.status !== 403) return { verdict: "ok" };
  const body = await response.json().catch(() => ({}));
  return { verdict: "refused", reason: body.error?.message || `HTTP ${response.status}` };
}

// Who a token names: a JSON Web Token's `sub`, read here without checking the signature (the
// service checks it). A static API token names its subject only in the service's API_TOKENS.
function subjectOf(token) {
  if (config.auth !== "jwt") return `…${token.slice(-4)}`;
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return String(JSON.parse(new TextDecoder().decode(bytes)).sub);
  } catch {
    return "unknown subject";
  }
}

async function signIn(token) {
  $("#sign-in-problem").hidden = true;
  showStatus("checking the token…", "connecting");
  $("#sign-in button").disabled = true;
  const check = await checkToken(token);
  $("#sign-in button").disabled = false;
  if (check.verdict === "refused") {
    signOut(`Invalid or expired token (${check.reason}).`);
    return;
  }
  sessionStorage.setItem("token", token);
  $("#subject").textContent = subjectOf(token);
  start(token);
}

// Back to the sign-in form; `problem`, when given, says why, with where to get a token.
function signOut(problem = null) {
  stop();
  sessionStorage.removeItem("token");
  $("#token").value = "";
  $("#session").hidden = true;
  $("#workspace").hidden = true;
  $("#sign-in-card").hidden = false;
  const shown = $("#sign-in-problem");
  shown.hidden = !problem;
  $("#token-hint").hidden = Boolean(problem); // the problem repeats it
  if (problem) shown.replaceChildren(`${problem} `, ...[...$("#token-hint").childNodes].map((node) => node.cloneNode(true)));
  showStatus("signed out", "signed-out");
  $("#token").focus();
}

function start(token) {
  stop();
  client = new RealtimeClient(wsUrl(), { token });
  const mine = client;
  client.addEventListener("event", onEvent);
  client.addEventListener("status", ({ detail }) => mine === client && onStatus(mine, detail));
  if (config.auth !== "none") {
    $("#token").value = "";
    $("#sign-in-card").hidden = true;
    $("#session").hidden = false;
  }
  $("#workspace").hidden = false;
  showStatus("connecting…", "connecting");
  client.connect();
}

function stop() {
  const old = client;
  client = null;
  connected = false;
  if (old) old.close();
  entities.clear();
  render();
  leftRoom();
  if (config.rooms) $("#messages").replaceChildren();
  fillForm(null);
}

async function onStatus(session, { state, code, delay, reason }) {
  connected = state === "connected";
  if (state === "connected") {
    showStatus("connected", "connected");
    try {
      // Events missed while away are not replayed here: reload the list on every (re)connect.
      if (config.rooms && !session.rooms.has(config.plural)) await session.join(config.plural);
      await load(session);
      refreshMembers();
    } catch (error) {
      if (session === client && error.code !== "closed") showError(error);
    }
  } else if (state === "reconnecting") {
    showStatus(`reconnecting in ${(delay / 1000).toFixed(1)} s`, "reconnecting");
    // A refused handshake looks like any dropped connection to a browser (code 1006): ask over
    // HTTP whether the token is still good, instead of retrying forever with a dead one.
    if (config.auth === "none") return;
    const check = await checkToken(session.token);
    if (check.verdict === "refused" && session === client) {
      signOut(`The service no longer accepts your token (${check.reason}). Sign in again.`);
    }
  } else if (code === 1008 && config.auth !== "none") {
    signOut(`The service closed the session (${reason || "credentials expired or revoked"}). Sign in again.`);
  } else {
    showStatus(`disconnected (${reason || code}): reload to reconnect`, "closed");
  }
}

// The entity form and table.

function inputFor(field) {
  const input = document.createElement("input");
  input.name = field.name;
  input.id = `field-${field.name}`;
  input.type = field.email ? "email" : { int: "number", float: "number", bool: "checkbox", datetime: "datetime-local" }[field.kind] || "text";
  if (field.kind === "float") input.step = "any";
  if (field.kind === "datetime") input.step = "1";
  input.required = !field.optional && field.kind !== "bool";
  input.autocomplete = "off";
  input.oninput = () => showProblem(field.name, "");
  return input;
}

function buildForm() {
  for (const field of config.fields) {
    const label = document.createElement("label");
    label.className = field.kind === "bool" ? "field check" : "field";
    const name = document.createElement("span");
    name.textContent = field.name.replace(/_/g, " ") + (field.optional ? " (optional)" : "");
    const problem = document.createElement("small");
    problem.className = "problem";
    problem.id = `problem-${field.name}`;
    label.append(name, inputFor(field), problem);
    $("#fields").append(label);
  }
}

function readForm() {
  const data = {};
  for (const field of config.fields) {
    const input = $(`#field-${field.name}`);
    if (field.kind === "bool") data[field.name] = input.checked;
    else if (input.value === "") { if (!field.optional) data[field.name] = ""; else if (editing) data[field.name] = null; }
    else if (field.kind === "int") data[field.name] = parseInt(input.value, 10);
    else if (field.kind === "float") data[field.name] = parseFloat(input.value);
    else if (field.kind === "datetime") data[field.name] = new Date(input.value).toISOString();
    else data[field.name] = input.value;
  }
  return data;
}

function fillForm(entity) {
  editing = entity;
  for (const field of config.fields) {
    const input = $(`#field-${field.name}`);
    const value = entity ? entity[field.name] : null;
    if (field.kind === "bool") input.checked = Boolean(value);
    else if (field.kind === "datetime" && value) input.value = value.slice(0, 19);
    else input.value = value ?? "";
  }
  $("#save").textContent = entity ? `Update ${config.label}` : `Create ${config.label}`;
  $("#cancel").hidden = !entity;
  clearProblems();
}

function shown(field, value) {
  if (value === null || value === undefined) return "—";
  if (field.kind === "bool") return value ? "yes" : "no";
  return String(value);
}

// A few words that name an entity in a question: its first text field, else its id.
function nameOf(entity) {
  const text = config.fields.find((field) => field.kind === "str");
  return text && entity[text.name] ? entity[text.name] : entity.id;
}

function render() {
  const rows = $("#rows");
  rows.replaceChildren();
  for (const entity of entities.values()) {
    const row = document.createElement("tr");
    row.dataset.id = entity.id;
    for (const field of config.fields) {
      const cell = document.createElement("td");
      cell.textContent = shown(field, entity[field.name]);
      cell.dataset.label = field.name.replace(/_/g, " ");
      cell.className = field.kind;
      row.append(cell);
    }
    const actions = document.createElement("td");
    actions.className = "actions";
    const edit = document.createElement("button");
    edit.textContent = "Edit";
    edit.className = "quiet";
    edit.onclick = () => fillForm(entity);
    const remove = document.createElement("button");
    remove.textContent = "Delete";
    remove.className = "danger";
    remove.onclick = () => removeEntity(entity);
    actions.append(edit, remove);
    row.append(actions);
    rows.append(row);
  }
  $("#count").textContent = String(entities.size);
  $("#empty").hidden = entities.size > 0;
}

async function removeEntity(entity) {
  if (!confirm(`Delete the ${config.label} “${nameOf(entity)}”? This cannot be undone.`)) return;
  clearProblems();
  try {
    await client.request(`${config.entity}.delete`, { id: entity.id });
    entities.delete(entity.id);
    if (editing && editing.id === entity.id) fillForm(null);
    render();
  } catch (error) {
    showError(error);
  }
}

function showProblem(name, message) {
  const problem = $(`#problem-${name}`);
  problem.textContent = message;
  $(`#field-${name}`).toggleAttribute("aria-invalid", Boolean(message));
}

function clearProblems() {
  for (const field of config.fields) showProblem(field.name, "");
  $("#error").textContent = "";
}

// A validation error goes next to the fields it names; anything else is one readable line.
function showError(error) {
  const named = new Set(config.fields.map((field) => field.name));
  const rest = [];
  if (error.code === "validation_error" && Array.isArray(error.details)) {
    for (const { field, message } of error.details) {
      if (named.has(field)) showProblem(field, message);
      else rest.push(field ? `${field}: ${message}` : message);
    }
    if (rest.length === 0) rest.push("Please correct the fields marked above.");
  } else {
    rest.push(error.message.replace(/^[a-z_]+: /, ""));
  }
  $("#error").textContent = rest.join("; ");
}

async function save(event) {
  event.preventDefault();
  clearProblems();
  try {
    if (editing) {
      const changes = { id: editing.id, version: editing.version, ...readForm() };
      remember(await client.request(`${config.entity}.update`, changes));
    } else {
      remember(await client.request(`${config.entity}.create`, readForm()));
    }
    fillForm(null);
  } catch (error) {
    showError(error);
  }
}

function remember(entity) {
  entities.set(entity.id, entity);
  render();
}

async function load(session) {
  const page = await session.request(`${config.entity}.list`, { limit: 500 });
  if (session !== client) return;
  entities.clear();
  for (const entity of page.items) entities.set(entity.id, entity);
  render();
}

function onEvent({ detail: frame }) {
  if (frame.type === `${config.entity}.created` || frame.type === `${config.entity}.updated`) remember(frame.data);
  else if (frame.type === `${config.entity}.deleted`) { entities.delete(frame.data.id); render(); }
  else if (frame.type === "room.message" && frame.room === chat) {
    addMessage(frame.data.from, frame.data.payload);
    refreshMembers();
  }
}

// The chat room.

// A payload as text: a string as it is, any other JSON compactly.
function textOf(payload) {
  return typeof payload === "string" ? payload : JSON.stringify(payload);
}

function addMessage(from, payload, note = false) {
  const item = document.createElement("li");
  if (note) item.className = "note";
  if (from !== null) {
    const sender = document.createElement("strong");
    sender.textContent = from;
    item.append(sender, " ");
  }
  item.append(textOf(payload));
  $("#messages").append(item);
  item.scrollIntoView({ block: "nearest" });
}

function showMembers(members) {
  const list = $("#members");
  list.replaceChildren();
  for (const member of members) {
    const item = document.createElement("li");
    item.textContent = member;
    list.append(item);
  }
}

async function refreshMembers() {
  if (!chat || !connected || document.hidden) return;
  const room = chat;
  try {
    const reply = await client.request("room.members", { room });
    if (room === chat) showMembers(reply.members);
  } catch (error) {
    if (error.code !== "closed") showError(error);
  }
}

function roomControls() {
  if (!config.rooms) return;
  $("#join").disabled = chat !== null && $("#room").value === chat;
  $("#leave").disabled = chat === null;
  $("#say").disabled = chat === null;
  $("#room-name").hidden = chat === null;
  $("#room-name").textContent = chat ?? "";
}

function leftRoom() {
  if (!config.rooms) return;
  chat = null;
  $("#members").replaceChildren();
  roomControls();
}

async function joinRoom(event) {
  event.preventDefault();
  const room = $("#room").value;
  $("#error").textContent = "";
  try {
    if (chat) {
      const old = chat;
      leftRoom();
      if (old !== config.plural) await client.leave(old);
    }
    const reply = await client.join(room);
    chat = room;
    addMessage(null, `joined ${room} (${reply.members} connected)`, true);
    roomControls();
    refreshMembers();
  } catch (error) {
    showError(error);
  }
}

async function leaveRoom() {
  const room = chat;
  leftRoom();
  try {
    // The entity's own room carries its events: the page stays in it.
    if (room !== config.plural) await client.leave(room);
    addMessage(null, `left ${room}`, true);
  } catch (error) {
    showError(error);
  }
}

async function say(event) {
  event.preventDefault();
  const text = $("#message").value;
  try {
    await client.request("room.publish", { room: chat, payload: text });
    addMessage("you", text);
    $("#message").value = "";
  } catch (error) {
    showError(error);
  }
}

buildForm();
fillForm(null);
render();
$("#entity-form").onsubmit = save;
$("#cancel").onclick = () => fillForm(null);
if (config.rooms) {
  $("#join-form").onsubmit = joinRoom;
  $("#leave").onclick = leaveRoom;
  $("#say-form").onsubmit = say;
  $("#room").oninput = roomControls;
  setInterval(refreshMembers, MEMBERS_EVERY);
  document.addEventListener("visibilitychange", refreshMembers);
}
if (config.auth === "none") {
  start(null);
} else {
  $("#sign-in").onsubmit = (event) => { event.preventDefault(); signIn($("#token").value.trim()); };
  $("#sign-out").onclick = () => signOut();
  const remembered = sessionStorage.getItem("token");
  if (remembered) signIn(remembered);
  else signOut();
}
