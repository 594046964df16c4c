// The example page: a live list of entities, a form to create and edit them over the
// WebSocket and, when rooms are on, a chat room.
import { RealtimeClient } from "./realtime.js";

const config = JSON.parse(document.getElementById("config").textContent);
const $ = (selector) => document.querySelector(selector);
const entities = new Map();
let client = null;
let editing = null; // the entity being edited, or null when creating

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

function showStatus(text, state) {
  $("#status").textContent = text;
  $("#status").dataset.state = state;
}

function inputFor(field) {
  const input = document.createElement("input");
  input.name = field.name;
  input.id = `field-${field.name}`;
  input.type = { int: "number", float: "number", bool: "checkbox", datetime: "datetime-local" }[field.kind] || "text";
  if (field.kind === "float") input.step = "any";
  if (field.kind === "datetime") input.step = "1";
  input.required = !field.optional && field.kind !== "bool";
  return input;
}

function buildForm() {
  const fields = $("#fields");
  for (const field of config.fields) {
    const label = document.createElement("label");
    label.textContent = field.name + (field.optional ? " (optional)" : "");
    label.append(inputFor(field));
    fields.append(label);
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
}

function render() {
  const rows = $("#rows");
  rows.replaceChildren();
  for (const entity of entities.values()) {
    const row = document.createElement("tr");
    row.dataset.id = entity.id;
    for (const field of config.fields) {
      const cell = document.createElement("td");
      cell.textContent = entity[field.name] ?? "";
      row.append(cell);
    }
    const actions = document.createElement("td");
    const edit = document.createElement("button");
    edit.textContent = "Edit";
    edit.onclick = () => fillForm(entity);
    const remove = document.createElement("button");
    remove.textContent = "Delete";
    remove.onclick = () => client.request(`${config.entity}.delete`, { id: entity.id }).catch(showError);
    actions.append(edit, remove);
    row.append(actions);
    rows.append(row);
  }
  $("#count").textContent = String(entities.size);
}

function showError(error) {
  const details = error.details ? " " + JSON.stringify(error.details) : "";
  $("#error").textContent = `${error.message}${details}`;
}

async function save(event) {
  event.preventDefault();
  $("#error").textContent = "";
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

async function load() {
  const page = await client.request(`${config.entity}.list`, { limit: 500 });
  entities.clear();
  for (const entity of page.items) entities.set(entity.id, entity);
  render();
}

function onEvent({ detail: frame }) {
  if (frame.type === `${config.entity}.created` || frame.type === `${config.entity}.updated`) remember(frame.data);
  else if (frame.type === `${config.entity}.deleted`) { entities.delete(frame.data.id); render(); }
  else if (frame.type === "room.message") addMessage(`${frame.data.from}: ${JSON.stringify(frame.data.payload)}`);
}

function addMessage(text) {
  const item = document.createElement("li");
  item.textContent = text;
  $("#messages").append(item);
}

async function joinRoom(event) {
  event.preventDefault();
  const room = $("#room").value;
  try {
    const reply = await client.join(room);
    addMessage(`joined ${room} (${reply.members} connected)`);
    $("#say").disabled = false;
  } catch (error) {
    showError(error);
  }
}

async function say(event) {
  event.preventDefault();
  const text = $("#message").value;
  try {
    await client.request("room.publish", { room: $("#room").value, payload: text });
    addMessage(`me: ${JSON.stringify(text)}`);
    $("#message").value = "";
  } catch (error) {
    showError(error);
  }
}

function start() {
  if (client) client.close();
  const token = config.auth === "none" ? null : $("#token").value.trim();
  if (token) sessionStorage.setItem("token", token);
  client = new RealtimeClient(wsUrl(), { token });
  client.addEventListener("event", onEvent);
  client.addEventListener("status", async ({ detail }) => {
    if (detail.state === "connected") {
      showStatus(`connected (${client.connects})`, "connected");
      // Events missed while away are not replayed: reload the list on every (re)connect.
      if (config.rooms && !client.rooms.has(config.plural)) await client.join(config.plural);
      await load();
    } else if (detail.state === "reconnecting") {
      showStatus(`reconnecting in ${(detail.delay / 1000).toFixed(1)} s (closed ${detail.code})`, "reconnecting");
    } else {
      showStatus(`closed (${detail.code})`, "closed");
    }
  });
  client.connect();
}

buildForm();
fillForm(null);
$("#entity-form").onsubmit = save;
$("#cancel").onclick = () => fillForm(null);
$("#chat").hidden = !config.rooms;
$("#join-form").onsubmit = joinRoom;
$("#say-form").onsubmit = say;
$("#sign-in").hidden = config.auth === "none";
$("#token").value = sessionStorage.getItem("token") || "";
$("#sign-in").onsubmit = (event) => { event.preventDefault(); start(); };
if (config.auth === "none" || $("#token").value) start();
