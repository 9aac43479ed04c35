// A form generated from a tool's JSON Schema input: one labelled control per property.
import { h } from "./dom.js";

function control(name, prop, required) {
  const id = `arg-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const type = Array.isArray(prop.type) ? prop.type.find((t) => t !== "null") : prop.type;
  let input;
  if (Array.isArray(prop.enum)) {
    input = h("select", { id, name }, prop.enum.map((v) => h("option", { value: JSON.stringify(v) }, String(v))));
    input.dataset.kind = "enum";
  } else if (type === "boolean") {
    input = h("input", { id, name, type: "checkbox" });
    input.dataset.kind = "boolean";
  } else if (type === "number" || type === "integer") {
    input = h("input", { id, name, type: "number", step: type === "integer" ? "1" : "any", required });
    input.dataset.kind = "number";
  } else if (type === "object" || type === "array") {
    input = h("textarea", { id, name, rows: 3, required, placeholder: type === "array" ? "[ ]" : "{ }" });
    input.dataset.kind = "json";
  } else {
    input = h("input", { id, name, type: "text", required });
    input.dataset.kind = "string";
  }
  if (prop.default !== undefined && input.dataset.kind !== "boolean") {
    input.value = typeof prop.default === "string" ? prop.default : JSON.stringify(prop.default);
  }
  const text = `${prop.title || name}${required ? " *" : ""}`;
  return h("label", { for: id, title: prop.description || "" }, text, input);
}

function readValue(el) {
  switch (el.dataset.kind) {
    case "boolean": return el.checked;
    case "number": return el.value === "" ? undefined : Number(el.value);
    case "json": return el.value.trim() === "" ? undefined : JSON.parse(el.value);
    case "enum": return JSON.parse(el.value);
    default: return el.value === "" ? undefined : el.value;
  }
}

export function toolForm(tool, onSubmit) {
  const schema = tool.inputSchema || tool.parameters || {};
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const result = h("pre", { class: "result", "aria-live": "polite", "data-role": "result" });
  const form = h("form", { class: "inline", "aria-label": `Call ${tool.name}` },
    Object.entries(props).map(([n, p]) => control(n, p, required.has(n))),
    h("button", { type: "submit" }, `Call ${tool.name}`));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const args = {};
    try {
      for (const el of form.querySelectorAll("[name]")) {
        const v = readValue(el);
        if (v !== undefined) args[el.name] = v;
      }
    } catch (e) {
      result.textContent = `invalid input: ${e.message}`;
      return;
    }
    result.textContent = "calling…";
    result.textContent = await onSubmit(args);
  });
  return h("details", { class: "card tool", "data-tool": tool.name },
    h("summary", {}, h("strong", {}, tool.name), tool.description ? ` — ${tool.description}` : ""), form, result);
}
