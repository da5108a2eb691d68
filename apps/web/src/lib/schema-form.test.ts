import { describe, expect, it } from "vitest";

import { fieldsOf, initialValues, labelFor, toConfig, type JsonSchema } from "./schema-form";

const dbSchema: JsonSchema = {
  type: "object",
  required: ["connection_name", "driver", "max_rows", "allowed_schemas", "read_only"],
  properties: {
    connection_name: { type: "string", pattern: "^[a-z][a-z0-9_]{0,62}$" },
    driver: { type: "string", enum: ["postgresql", "mysql"] },
    host: { type: "string", minLength: 1 },
    port: { type: "integer", minimum: 1, maximum: 65535 },
    read_only: { type: "boolean", default: true },
    max_rows: { type: "integer", minimum: 1, maximum: 100000, default: 1000 },
    max_file_mb: { type: "number", exclusiveMinimum: 0 },
    allowed_schemas: { type: "array", items: { type: "string", minLength: 1 }, minItems: 1 },
    cameras: { type: "array", items: { type: "object" } },
  },
};

describe("fieldsOf", () => {
  it("picks an input per property type", () => {
    const kinds = Object.fromEntries(fieldsOf(dbSchema).map((f) => [f.name, f.kind]));
    expect(kinds).toEqual({
      connection_name: "text",
      driver: "select",
      host: "text",
      port: "integer",
      read_only: "boolean",
      max_rows: "integer",
      max_file_mb: "number",
      allowed_schemas: "list",
      cameras: "json",
    });
    expect(fieldsOf(dbSchema).find((f) => f.name === "driver")?.options).toEqual([
      "postgresql",
      "mysql",
    ]);
    expect(labelFor("statement_timeout_seconds")).toBe("Statement timeout seconds");
  });
});

describe("initialValues and toConfig", () => {
  it("round-trips a config, schema defaults filling the gaps", () => {
    const config = { connection_name: "warehouse", driver: "mysql", allowed_schemas: ["a", "b"] };
    const values = initialValues(dbSchema, config);
    expect(values.allowed_schemas).toBe("a\nb");
    expect(values.read_only).toBe(true);
    expect(values.max_rows).toBe("1000");
    const result = toConfig(dbSchema, values);
    expect(result.errors).toEqual({});
    expect(result.config).toEqual({
      connection_name: "warehouse",
      driver: "mysql",
      read_only: true,
      max_rows: 1000,
      allowed_schemas: ["a", "b"],
    });
  });

  it("reports each broken field by name", () => {
    const result = toConfig(dbSchema, {
      connection_name: "Bad Name",
      driver: "postgresql",
      port: "70000",
      max_rows: "1.5",
      max_file_mb: "0",
      allowed_schemas: "  \n ",
      read_only: false,
      cameras: "[{",
    });
    expect(result.errors).toEqual({
      connection_name: "must match ^[a-z][a-z0-9_]{0,62}$",
      port: "must be at most 65535",
      max_rows: "must be a whole number",
      max_file_mb: "must be more than 0",
      allowed_schemas: "required",
      cameras: "must be valid JSON",
    });
  });

  it("leaves optional empty fields out instead of sending empty strings", () => {
    const values = initialValues(dbSchema, {
      connection_name: "w",
      driver: "mysql",
      allowed_schemas: ["public"],
    });
    const { config } = toConfig(dbSchema, values);
    expect("host" in config).toBe(false);
    expect("port" in config).toBe(false);
  });
});
