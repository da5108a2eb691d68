// A profile version's content as a reader wants it: one section per part, each line with the
// document it came from. The shape is GeneratedProfile's (core-api profiles/schemas.py); the
// API types it loosely, so every part is read defensively and the raw JSON stays one click away.

interface Source {
  document?: string;
  page?: number | null;
  page_end?: number | null;
}
type Row = Record<string, unknown>;

const asRows = (value: unknown): Row[] =>
  Array.isArray(value) ? value.filter((v): v is Row => typeof v === "object" && v !== null) : [];
const asText = (value: unknown): string => (typeof value === "string" ? value : "");

function sourceText(source: unknown): string | null {
  if (typeof source !== "object" || source === null) return null;
  const s = source as Source;
  if (!s.document) return null;
  if (s.page && s.page_end && s.page_end !== s.page) return `${s.document}, pp. ${s.page}–${s.page_end}`;
  return s.page ? `${s.document}, p. ${s.page}` : s.document;
}

function Cited({ text, source }: { text: string; source: unknown }) {
  const from = sourceText(source);
  return (
    <>
      {text}
      {from ? <span className="block text-xs text-muted-foreground">from {from}</span> : null}
    </>
  );
}

function Section({ title, count, children }: { title: string; count: number; children: React.ReactNode }) {
  return (
    <section className="space-y-2">
      <h4 className="text-sm font-semibold">
        {title} <span className="font-normal text-muted-foreground">({count})</span>
      </h4>
      {count === 0 ? <p className="text-sm text-muted-foreground">None.</p> : children}
    </section>
  );
}

export function ProfileSections({ profile }: { profile: Record<string, unknown> }) {
  const capabilities = Array.isArray(profile.capabilities) ? profile.capabilities.map(asText).filter(Boolean) : [];
  const duties = asRows(profile.duties);
  const workflows = asRows(profile.workflows);
  const suggestions = asRows(profile.schedule_suggestions);
  const rules = asRows(profile.tool_usage_rules);
  const safety = asRows(profile.safety_constraints);
  const list = "list-disc space-y-1 pl-5 text-sm break-words";
  return (
    <div className="space-y-5" data-testid="profile-sections">
      <Section title="Capabilities" count={capabilities.length}>
        <ul className={list}>
          {capabilities.map((c, i) => (
            <li key={i}>{c}</li>
          ))}
        </ul>
      </Section>
      <Section title="Duties" count={duties.length}>
        <ul className={list}>
          {duties.map((d, i) => (
            <li key={i}>
              <Cited text={asText(d.text)} source={d.source} />
            </li>
          ))}
        </ul>
      </Section>
      <Section title="Workflows" count={workflows.length}>
        <ul className={list}>
          {workflows.map((w, i) => (
            <li key={i}>
              <code className="rounded bg-muted px-1 font-mono text-xs">{asText(w.type)}</code> — {asText(w.description)}{" "}
              <span className="text-muted-foreground">
                ({asText(w.schedule) ? `schedule ${asText(w.schedule)}` : "on request"})
              </span>
            </li>
          ))}
        </ul>
      </Section>
      {suggestions.length ? (
        <Section title="Recurring work no workflow runs yet" count={suggestions.length}>
          <ul className={list}>
            {suggestions.map((s, i) => (
              <li key={i}>
                <Cited
                  text={`${asText(s.description)}${asText(s.schedule) ? ` (${asText(s.schedule)})` : ""} — ${asText(s.reason)}`}
                  source={s.source}
                />
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
      <Section title="Tool rules" count={rules.length}>
        <ul className={list}>
          {rules.map((r, i) => (
            <li key={i}>
              <span className="font-medium">{asText(r.tool)}:</span> <Cited text={asText(r.rule)} source={r.source} />
            </li>
          ))}
        </ul>
      </Section>
      <Section title="Safety constraints" count={safety.length}>
        <ul className={list}>
          {safety.map((s, i) => (
            <li key={i}>
              <Cited text={asText(s.text)} source={s.source} />
            </li>
          ))}
        </ul>
      </Section>
      <details className="text-sm">
        <summary className="cursor-pointer text-muted-foreground">Raw profile (JSON)</summary>
        <pre className="mt-2 max-h-96 overflow-auto whitespace-pre-wrap break-words rounded-md bg-muted p-3 font-mono text-xs">
          {JSON.stringify(profile, null, 2)}
        </pre>
      </details>
    </div>
  );
}
