"use client";

import { Fragment } from "react";

import { ErrorState, LoadingState } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { type OrchestratorSchemas } from "@/lib/api/client";
import { useWorkflows } from "@/lib/api/queries";

type Contract = OrchestratorSchemas["DataContract"];

const TYPE_WORDS: Record<OrchestratorSchemas["ContractColumn"]["type"], string> = {
  text: "text",
  integer: "integer",
  number: "number",
  timestamp: "timestamp",
};

// The contract's prose marks names and literal forms with backticks, as Markdown does.
function WithCode({ text }: { text: string }) {
  return (
    <>
      {text.split("`").map((part, i) =>
        i % 2 ? (
          <code key={i} className="font-mono text-xs">
            {part}
          </code>
        ) : (
          part
        ),
      )}
    </>
  );
}

function ContractTables({ contract }: { contract: Contract }) {
  return (
    <div className="space-y-3">
      <p className="text-sm text-muted-foreground">
        Timestamps: <WithCode text={contract.timestamps} /> Examples:{" "}
        {contract.timestamp_examples.map((e, i) => (
          <span key={e}>
            {i ? ", " : null}
            <code className="font-mono text-xs">{e}</code>
          </span>
        ))}
        .
      </p>
      {contract.tables.map((table) => (
        <details key={table.name} className="rounded-md border">
          <summary className="cursor-pointer px-4 py-2 text-sm">
            <code className="font-mono font-medium">{table.name}</code>{" "}
            <span className="text-muted-foreground">
              — {table.meaning} ({table.columns.length} columns)
            </span>
          </summary>
          <div className="space-y-2 px-4 pb-3 text-sm">
            <p className="text-muted-foreground">
              Rows read: {table.rows_read}. Export file: <code className="font-mono text-xs">{table.export_file}</code>
            </p>
            <div className="overflow-x-auto">
              <table className="w-full text-left text-sm" aria-label={`Columns of ${table.name}`}>
                <thead className="text-muted-foreground">
                  <tr>
                    <th className="py-1 pr-3 font-medium">Column</th>
                    <th className="py-1 pr-3 font-medium">Type</th>
                    <th className="py-1 pr-3 font-medium">May be empty</th>
                    <th className="py-1 pr-3 font-medium">Meaning</th>
                    <th className="py-1 font-medium">When empty</th>
                  </tr>
                </thead>
                <tbody className="divide-y">
                  {table.columns.map((c) => (
                    <tr key={c.name} className="align-top">
                      <td className="py-1 pr-3">
                        <code className="font-mono text-xs">{c.name}</code>
                        {c.key ? (
                          <Badge variant="secondary" className="ml-2">
                            key
                          </Badge>
                        ) : null}
                      </td>
                      <td className="py-1 pr-3">{TYPE_WORDS[c.type]}</td>
                      <td className="py-1 pr-3">{c.nullable ? "yes" : "no"}</td>
                      <td className="py-1 pr-3">
                        {c.meaning}
                        {c.unit ? ` (unit: ${c.unit})` : null}
                        {c.values ? `; values: ${c.values.join(", ")}` : null}
                      </td>
                      <td className="py-1 text-muted-foreground">
                        {c.when_null ?? "—"}
                        {c.figures_when_empty?.length ? (
                          <span className="mt-1 block text-xs">
                            Empty in every row: not available in the report:{" "}
                            {c.figures_when_empty.map((f, i) => (
                              <Fragment key={f}>
                                {i ? ", " : null}
                                <code className="font-mono">{f}</code>
                              </Fragment>
                            ))}
                          </span>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </div>
        </details>
      ))}
    </div>
  );
}

// What each workflow reads from the customer's own data, as the orchestrator declares it
// (GET /workflows): the tables and columns a local agent's database or exports must provide.
export function DataContractCard() {
  const workflows = useWorkflows();
  const withContract = (workflows.data ?? []).filter((w) => w.data_contract);
  return (
    <Card>
      <CardHeader>
        <CardTitle>Data the workflows read</CardTitle>
        <CardDescription>
          The tables and columns the local agent&apos;s database (tables, views) or file exports must provide.
        </CardDescription>
      </CardHeader>
      <CardContent className="space-y-6">
        {workflows.isPending ? <LoadingState label="Loading data contracts" /> : null}
        {workflows.isError ? <ErrorState error={workflows.error} onRetry={() => workflows.refetch()} /> : null}
        {withContract.map((w) =>
          w.data_contract ? (
            <section key={w.type} className="space-y-2" aria-label={`Data contract of ${w.type}`}>
              <h3 className="text-sm font-medium">
                {w.type} <span className="font-normal text-muted-foreground">({w.data_contract.name} contract)</span>
              </h3>
              <ContractTables contract={w.data_contract} />
            </section>
          ) : null,
        )}
      </CardContent>
    </Card>
  );
}
