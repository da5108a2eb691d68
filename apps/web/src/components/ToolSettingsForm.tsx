"use client";

import { FormField } from "@/components/form-field";
import { Input, NativeSelect, Textarea } from "@/components/ui/input";
import { fieldsOf, type FormValues, type JsonSchema } from "@/lib/schema-form";

/** The inputs of one tool's settings, drawn from its JSON Schema. */
export function ToolSettingsForm({
  schema,
  values,
  errors,
  onChange,
  idPrefix,
}: {
  schema: JsonSchema;
  values: FormValues;
  errors: Record<string, string>;
  onChange: (values: FormValues) => void;
  idPrefix: string;
}) {
  const set = (name: string, value: string | boolean) => onChange({ ...values, [name]: value });
  const fields = fieldsOf(schema);
  if (fields.length === 0) {
    // The db and file tools: phi-agent takes everything from the customer's policy.yaml.
    return (
      <p className="text-sm text-muted-foreground" data-testid="tool-settings-none">
        {schema.description ?? "Nothing to set here."} A starter <code>policy.yaml</code> made
        for this agent is on its Config tab, beside the config file.
      </p>
    );
  }
  return (
    <div className="grid gap-4 sm:grid-cols-2">
      {fields.map((field) => {
        const value = values[field.name];
        const label = field.required ? `${field.label} (required)` : field.label;
        const hint =
          field.kind === "list"
            ? `${field.description ?? ""} One per line.`.trim()
            : field.description;
        if (field.kind === "boolean") {
          const id = `${idPrefix}-${field.name}`;
          return (
            <div key={field.name} className="flex items-start gap-2 sm:col-span-2">
              <input
                id={id}
                type="checkbox"
                className="mt-1 h-4 w-4"
                checked={value === true}
                onChange={(e) => set(field.name, e.target.checked)}
                aria-describedby={field.description ? `${id}-hint` : undefined}
              />
              <div>
                <label htmlFor={id} className="text-sm font-medium">
                  {field.label}
                </label>
                {field.description ? (
                  <p id={`${id}-hint`} className="text-xs text-muted-foreground">
                    {field.description}
                  </p>
                ) : null}
              </div>
            </div>
          );
        }
        const wide = field.kind === "list" || field.kind === "json";
        return (
          <div key={field.name} className={wide ? "sm:col-span-2" : undefined}>
            <FormField label={label} hint={hint} error={errors[field.name]}>
              {(p) =>
                field.kind === "select" ? (
                  <NativeSelect
                    {...p}
                    value={String(value ?? "")}
                    onChange={(e) => set(field.name, e.target.value)}
                  >
                    <option value="">Choose…</option>
                    {field.options?.map((o) => (
                      <option key={o}>{o}</option>
                    ))}
                  </NativeSelect>
                ) : wide ? (
                  <Textarea
                    {...p}
                    rows={field.kind === "json" ? 4 : 3}
                    className="font-mono"
                    value={String(value ?? "")}
                    onChange={(e) => set(field.name, e.target.value)}
                  />
                ) : (
                  <Input
                    {...p}
                    inputMode={field.kind === "text" ? undefined : "decimal"}
                    value={String(value ?? "")}
                    onChange={(e) => set(field.name, e.target.value)}
                  />
                )
              }
            </FormField>
          </div>
        );
      })}
    </div>
  );
}
