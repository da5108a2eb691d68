// Settings forms drawn from a tool's JSON Schema: which inputs to show, their starting values,
// and turning what was typed back into the config object, with the schema's own limits checked
// here so mistakes show beside the input before anything is sent (the API checks again).

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface JsonSchema {
  type?: string;
  title?: string;
  description?: string;
  enum?: Json[];
  default?: Json;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  pattern?: string;
}

export type FieldKind = "text" | "select" | "integer" | "number" | "boolean" | "list" | "json";

export interface SchemaField {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  description?: string;
  options?: string[];
  schema: JsonSchema;
}

/** "statement_timeout_seconds" → "Statement timeout seconds". */
export function labelFor(name: string): string {
  const words = name.replace(/_/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function kindOf(schema: JsonSchema): FieldKind {
  if (schema.enum) return "select";
  switch (schema.type) {
    case "boolean":
      return "boolean";
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "string":
      return "text";
    case "array":
      return schema.items?.type === "string" ? "list" : "json";
    default:
      return "json";
  }
}

export function fieldsOf(schema: JsonSchema): SchemaField[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, prop]) => ({
    name,
    label: prop.title ?? labelFor(name),
    kind: kindOf(prop),
    required: required.has(name),
    description: prop.description,
    options: prop.enum?.map(String),
    schema: prop,
  }));
}

/** Form state is one string (or boolean) per field: lists one item per line, JSON as text. */
export type FormValues = Record<string, string | boolean>;

export function initialValues(schema: JsonSchema, config: Record<string, unknown>): FormValues {
  const values: FormValues = {};
  for (const field of fieldsOf(schema)) {
    const value = field.name in config ? config[field.name] : field.schema.default;
    if (field.kind === "boolean") values[field.name] = value === true;
    else if (value === undefined || value === null) values[field.name] = "";
    else if (field.kind === "list" && Array.isArray(value)) values[field.name] = value.join("\n");
    else if (field.kind === "json") values[field.name] = JSON.stringify(value, null, 2);
    else values[field.name] = String(value);
  }
  return values;
}

function checkNumber(field: SchemaField, n: number): string | null {
  const s = field.schema;
  if (s.minimum !== undefined && n < s.minimum) return `must be at least ${s.minimum}`;
  if (s.maximum !== undefined && n > s.maximum) return `must be at most ${s.maximum}`;
  if (s.exclusiveMinimum !== undefined && n <= s.exclusiveMinimum)
    return `must be more than ${s.exclusiveMinimum}`;
  if (s.exclusiveMaximum !== undefined && n >= s.exclusiveMaximum)
    return `must be less than ${s.exclusiveMaximum}`;
  return null;
}

function checkString(schema: JsonSchema, text: string): string | null {
  if (schema.minLength !== undefined && text.length < schema.minLength)
    return schema.minLength === 1 ? "must not be empty" : `needs ${schema.minLength}+ characters`;
  if (schema.maxLength !== undefined && text.length > schema.maxLength)
    return `at most ${schema.maxLength} characters`;
  if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(text))
    return `must match ${schema.pattern}`;
  return null;
}

export interface ConfigResult {
  config: Record<string, Json>;
  errors: Record<string, string>;
}

export function toConfig(schema: JsonSchema, values: FormValues): ConfigResult {
  const config: Record<string, Json> = {};
  const errors: Record<string, string> = {};
  for (const field of fieldsOf(schema)) {
    const raw = values[field.name];
    if (field.kind === "boolean") {
      config[field.name] = raw === true;
      continue;
    }
    const text = typeof raw === "string" ? raw.trim() : "";
    if (text === "") {
      if (field.required) errors[field.name] = "required";
      continue;
    }
    let error: string | null = null;
    switch (field.kind) {
      case "integer":
      case "number": {
        const n = Number(text);
        if (!Number.isFinite(n) || (field.kind === "integer" && !Number.isInteger(n))) {
          error = field.kind === "integer" ? "must be a whole number" : "must be a number";
        } else {
          error = checkNumber(field, n);
          config[field.name] = n;
        }
        break;
      }
      case "list": {
        const items = text
          .split(/\n/)
          .map((s) => s.trim())
          .filter(Boolean);
        const itemSchema = field.schema.items ?? {};
        const bad = items.map((item) => checkString(itemSchema, item)).find(Boolean);
        if (bad) error = `each line ${bad}`;
        else if (field.schema.minItems !== undefined && items.length < field.schema.minItems)
          error = `needs at least ${field.schema.minItems} line(s)`;
        config[field.name] = items;
        break;
      }
      case "json":
        try {
          config[field.name] = JSON.parse(text) as Json;
        } catch {
          error = "must be valid JSON";
        }
        break;
      default:
        error = field.kind === "select" ? null : checkString(field.schema, text);
        config[field.name] = text;
    }
    if (error) errors[field.name] = error;
  }
  return { config, errors };
}
